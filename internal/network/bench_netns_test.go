//go:build linux

package network

import (
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkNetnsPodToPod measures pod → pod TCP across two node
// namespaces for each backend: stream throughput (64 KiB writes) and
// request/response latency (1 byte each way, one connection).
//
//	go test ./internal/network -run XXX -bench NetnsPodToPod -benchtime 3s
func BenchmarkNetnsPodToPod(b *testing.B) {
	needRoot(b)
	for _, backend := range []string{BackendVXLAN, BackendHostGW} {
		b.Run(backend, func(b *testing.B) {
			c := newTestCluster(b, backend, 2)
			sink := listen(b, c.pods[1], podAddr(1)+":0", func(conn net.Conn) { _, _ = io.Copy(io.Discard, conn) })
			echo := listen(b, c.pods[1], podAddr(1)+":0", func(conn net.Conn) { _, _ = io.Copy(conn, conn) })
			// Wait for the route: the first connection may race it.
			eventually(b, "pod1 → pod2", func() error {
				conn, err := dialFrom(c.pods[0], echo)
				if err == nil {
					conn.Close()
				}
				return err
			})

			b.Run("tcp-stream", func(b *testing.B) {
				conn, err := dialFrom(c.pods[0], sink)
				must(b, err)
				defer conn.Close()
				buf := make([]byte, 64<<10)
				b.SetBytes(int64(len(buf)))
				b.ResetTimer()
				for range b.N {
					if _, err := conn.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("tcp-rr", func(b *testing.B) {
				conn, err := dialFrom(c.pods[0], echo)
				must(b, err)
				defer conn.Close()
				conn.(*net.TCPConn).SetNoDelay(true)
				one := []byte{1}
				b.ResetTimer()
				for range b.N {
					if _, err := conn.Write(one); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(conn, one); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// listen serves each connection on addr inside ns with handle.
func listen(t testing.TB, ns *testNS, addr string, handle func(net.Conn)) string {
	t.Helper()
	var ln net.Listener
	must(t, inNS(ns.ns, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	}))
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				handle(conn)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func dialFrom(ns *testNS, addr string) (net.Conn, error) {
	var conn net.Conn
	err := inNS(ns.ns, func() (err error) {
		conn, err = net.DialTimeout("tcp4", addr, 2*time.Second)
		return err
	})
	return conn, err
}
