// Command grpc-health is the node suite's gRPC health server: it serves
// grpc.health.v1.Health on -port for the overall service ("") and for
// each name in -services, SERVING while -file exists and NOT_SERVING
// otherwise. Any other service name is unknown (NOT_FOUND), as in the
// stock health server. SIGTERM stops it with exit 0.
//
// TestMain builds it into the test image as /bin/grpc-health.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() { os.Exit(run()) }

func run() int {
	port := flag.Int("port", 9090, "TCP port to serve on")
	file := flag.String("file", "/tmp/healthy", "SERVING while this file exists")
	services := flag.String("services", "", "comma-separated service names served besides \"\"")
	flag.Parse()

	l, err := net.Listen("tcp", fmt.Sprintf(":%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpc-health:", err)
		return 1
	}
	names := []string{""}
	if *services != "" {
		names = append(names, strings.Split(*services, ",")...)
	}
	hs := health.NewServer()
	set := func() {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if _, err := os.Stat(*file); err == nil {
			st = healthpb.HealthCheckResponse_SERVING
		}
		for _, n := range names {
			hs.SetServingStatus(n, st)
		}
	}
	set()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)

	// The file is polled rather than watched: 100 ms is far below any
	// probe period, and busybox-only images have nothing to notify with.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				srv.Stop()
				return
			case <-t.C:
				set()
			}
		}
	}()
	if err := srv.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, "grpc-health:", err)
		return 1
	}
	return 0
}
