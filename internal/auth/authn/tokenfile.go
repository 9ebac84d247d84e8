package authn

import (
	"crypto/subtle"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/skiff-sh/skiff/internal/auth"
)

// TokenFile authenticates static bearer tokens from a CSV file in
// upstream's --token-auth-file format: token,user,uid[,"group1,group2"].
type TokenFile struct {
	users map[string]*auth.User
}

var _ TokenAuthenticator = (*TokenFile)(nil)

// LoadTokenFile reads a token file.
func LoadTokenFile(path string) (*TokenFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	tf := &TokenFile{users: map[string]*auth.User{}}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("token file %s: %w", path, err)
		}
		if len(rec) == 0 || strings.HasPrefix(rec[0], "#") {
			continue
		}
		if len(rec) < 3 {
			return nil, fmt.Errorf("token file %s line %d: want token,user,uid[,groups]", path, line)
		}
		if rec[0] == "" {
			return nil, fmt.Errorf("token file %s line %d: empty token", path, line)
		}
		u := &auth.User{Name: rec[1], UID: rec[2]}
		if len(rec) > 3 {
			for _, g := range strings.Split(rec[3], ",") {
				if g = strings.TrimSpace(g); g != "" {
					u.Groups = append(u.Groups, g)
				}
			}
		}
		tf.users[rec[0]] = u
	}
	return tf, nil
}

// AuthenticateToken looks the token up.
func (t *TokenFile) AuthenticateToken(token string) (*auth.User, bool, error) {
	for known, u := range t.users {
		if subtle.ConstantTimeCompare([]byte(known), []byte(token)) == 1 {
			c := *u
			c.Groups = append([]string(nil), u.Groups...)
			return &c, true, nil
		}
	}
	return nil, false, nil
}
