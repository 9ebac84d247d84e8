package datastore

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestEmbeddedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	start := time.Now()
	e, err := StartEmbedded(ctx, dir, EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fresh start took %v", time.Since(start))
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmRSS") {
				t.Logf("process %s with etcd running", line)
			}
		}
	}
	if _, err := e.Client().Put(ctx, "/k", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	start = time.Now()
	e2, err := StartEmbedded(ctx, dir, EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	t.Logf("restart took %v", time.Since(start))
	resp, err := e2.Client().Get(ctx, "/k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1" {
		t.Fatalf("got %v; want /k=v1", resp.Kvs)
	}
}

func TestConnectExternal(t *testing.T) {
	e, err := StartEmbedded(context.Background(), t.TempDir(), EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c, err := ConnectExternal([]string{e.Endpoint}, e.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Put(context.Background(), "/x", "y"); err != nil {
		t.Fatal(err)
	}
	if _, err := ConnectExternal(nil, nil); err == nil {
		t.Fatal("ConnectExternal(nil): got nil error; want error")
	}
}
