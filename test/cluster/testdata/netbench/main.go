// Command netbench measures TCP between two pods.
//
//	netbench serve PORT            echo for round trips; on a connection
//	                               whose first byte is 'S', discard (stream)
//	netbench run HOST:PORT MB N    stream MB megabytes, then N 1-byte round
//	                               trips; prints "MBps=… p50us=… p99us=…"
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "netbench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "serve":
		return serve(args[1])
	case len(args) == 4 && args[0] == "run":
		mb, err1 := strconv.Atoi(args[2])
		n, err2 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("bad numbers")
		}
		return client(args[1], mb, n)
	}
	return fmt.Errorf("usage: netbench serve PORT | netbench run HOST:PORT MB N")
}

func serve(port string) error {
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			var first [1]byte
			if _, err := io.ReadFull(c, first[:]); err != nil {
				return
			}
			if first[0] == 'S' {
				_, _ = io.Copy(io.Discard, c)
				_, _ = c.Write([]byte{'k'})
				return
			}
			_, _ = c.Write(first[:])
			_, _ = io.Copy(c, c)
		}()
	}
}

func client(addr string, mb, n int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	buf[0] = 'S'
	start := time.Now()
	for i := 0; i < mb; i++ {
		if _, err := c.Write(buf); err != nil {
			return err
		}
		buf[0] = 0
	}
	_ = c.(*net.TCPConn).CloseWrite()
	if _, err := io.ReadFull(c, buf[:1]); err != nil {
		return err
	}
	mbps := float64(mb) / time.Since(start).Seconds()
	c.Close()

	e, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer e.Close()
	rtts := make([]time.Duration, 0, n)
	b := []byte{'p'}
	for i := 0; i < n; i++ {
		t := time.Now()
		if _, err := e.Write(b); err != nil {
			return err
		}
		if _, err := io.ReadFull(e, b); err != nil {
			return err
		}
		rtts = append(rtts, time.Since(t))
	}
	slices.Sort(rtts)
	fmt.Printf("MBps=%.0f p50us=%d p99us=%d\n", mbps, rtts[n/2].Microseconds(), rtts[n*99/100].Microseconds())
	return nil
}
