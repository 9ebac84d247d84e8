package pki

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeconfigName is the cluster, user and context name in written
// kubeconfigs, as k3s does.
const KubeconfigName = "default"

// WriteKubeconfig writes a kubeconfig for serverURL to path (mode 0600,
// parent directories created) with the CA embedded and a client certificate
// for user in groups. For user AdminUser with no groups the stored admin
// certificate is used, so the file stays the same across restarts; any
// other identity gets a freshly issued certificate.
//
// The file is replaced atomically (temporary file + rename): a reader
// sees the old file or the whole new one, never a partial one, and the key
// is never readable by others, not even briefly.
func WriteKubeconfig(path, serverURL string, b *Bundle, user string, groups ...string) error {
	pair := b.admin
	if user != AdminUser || len(groups) > 0 {
		var err error
		if pair, err = b.IssueClientCert(user, groups); err != nil {
			return err
		}
	}
	return WriteConfigFile(path, Kubeconfig(serverURL, b.caPEM, pair))
}

// WriteConfigFile writes cfg to path as WriteKubeconfig does: mode 0600,
// replaced atomically, parent directories created (0755: the parent may
// be shared, like ~/.kube).
func WriteConfigFile(path string, cfg *clientcmdapi.Config) error {
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("pki: kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("pki: kubeconfig: %w", err)
	}
	return writeFile(path, data, 0o600)
}

// Kubeconfig builds the kubeconfig WriteKubeconfig writes.
func Kubeconfig(serverURL string, caPEM []byte, pair KeyPair) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[KubeconfigName] = &clientcmdapi.Cluster{
		Server:                   serverURL,
		CertificateAuthorityData: bytes.Clone(caPEM),
	}
	cfg.AuthInfos[KubeconfigName] = &clientcmdapi.AuthInfo{
		ClientCertificateData: bytes.Clone(pair.CertPEM),
		ClientKeyData:         bytes.Clone(pair.KeyPEM),
	}
	cfg.Contexts[KubeconfigName] = &clientcmdapi.Context{
		Cluster:  KubeconfigName,
		AuthInfo: KubeconfigName,
	}
	cfg.CurrentContext = KubeconfigName
	return cfg
}
