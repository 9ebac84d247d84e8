package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestJoinTokenGivesNodeIdentity joins a node the way `skiff agent --server
// URL --token T` does, with the token the server wrote to DATA-DIR/token.
func TestJoinTokenGivesNodeIdentity(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	ctx := context.Background()
	token, err := os.ReadFile(filepath.Join(s.DataDir(), "token"))
	if err != nil {
		t.Fatalf("the server wrote no join token: %v", err)
	}
	agentDir := t.TempDir()
	path, err := join.JoinOnce(ctx, agentDir, s.Config.Host, string(token), "worker-1")
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	node := kubernetes.NewForConfigOrDie(cfg)
	review, err := node.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; u.Username != "system:node:worker-1" || !slices.Contains(u.Groups, "system:nodes") {
		t.Fatalf("joined as %s %v; want system:node:worker-1 in system:nodes", u.Username, u.Groups)
	}
	// The node may register itself, as the agent does next.
	if _, err := node.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("node registers itself: %v", err)
	}
	// A second join reuses the identity without the token.
	again, err := join.JoinOnce(ctx, agentDir, s.Config.Host, "not a token", "worker-1")
	if err != nil || again != path {
		t.Fatalf("second join = %q, %v; want the kept kubeconfig %q", again, err, path)
	}
	// A wrong token is refused.
	bad, _ := join.ParseToken(string(token))
	bad.Secret = "0000000000000000"
	if _, err := join.Join(ctx, s.Config.Host, bad, "worker-2"); err == nil {
		t.Fatal("join with a wrong secret succeeded")
	}
}
