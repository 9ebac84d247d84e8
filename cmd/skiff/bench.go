package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/bench"
	"github.com/skiff-sh/skiff/internal/server"
)

func benchCommand() *cobra.Command {
	var (
		opts       bench.Options
		kubeconfig string
		pid        int
		phases     []string
		settle     time.Duration
		asJSON     bool
		keep       bool
		profileDir string
		cpuProfile string
		// profiler is set when the server runs in a profiled child.
		profiler  *bench.ProfileClient
		serverEnv []string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure an API server: create, get, list and watch latency, start-up time and memory",
		Long: `bench measures an API server through client-go (protobuf, no client-side rate limit).

By default it starts its own "skiff server" (this binary, a temporary data
directory, a random loopback port) and also reports the time from process
start to /readyz and the server's resident memory. With --kubeconfig it
targets an existing server; give --pid to sample that server's memory and CPU.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			opts.Phases = phases
			progress := func(format string, args ...any) {
				fmt.Fprintf(cmd.ErrOrStderr(), "bench: "+format+"\n", args...)
			}
			opts.Progress = progress
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			report := &bench.Report{Machine: bench.ReadMachine()}
			var cfg *rest.Config
			if kubeconfig != "" {
				var err error
				if cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
					return err
				}
				if pid > 0 {
					report.Server = &bench.ServerReport{PID: pid}
					if m, err := bench.ReadMemory(pid); err == nil {
						report.Server.Idle = &m
					}
				}
			} else {
				so := bench.ServerOptions{Env: serverEnv}
				if profileDir != "" {
					if err := os.MkdirAll(profileDir, 0o755); err != nil {
						return err
					}
					port, err := freeLoopbackPort()
					if err != nil {
						return err
					}
					addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
					so.Args = []string{"bench", "profiled-server", "--profile-address", addr}
					profiler = &bench.ProfileClient{Base: "http://" + addr + "/bench", Dir: profileDir}
					opts.OnPhase = profiler.Hook(progress)
				}
				progress("starting skiff server")
				p, err := bench.StartServer(ctx, so)
				if err != nil {
					return err
				}
				defer p.Stop()
				cfg, pid = p.Config, p.PID()
				progress("server ready in %v (log %s); settling %v", p.StartToReady.Round(time.Millisecond), p.LogPath, settle)
				report.Server = &bench.ServerReport{
					PID:                 pid,
					StartToReadyMs:      float64(p.StartToReady.Microseconds()) / 1000,
					StartToKubeconfigMs: float64(p.StartToKubeconfig.Microseconds()) / 1000,
				}
				if err := sleep(ctx, settle); err != nil {
					return err
				}
				m, err := bench.ReadMemory(pid)
				if err != nil {
					return err
				}
				report.Server.Idle = &m
				heapProfile(profiler, "idle", progress)
			}
			opts.ServerPID = pid
			load, err := bench.Run(ctx, cfg, opts)
			report.Load = load
			if err != nil {
				return err
			}
			if report.Server != nil {
				progress("load done; settling %v", settle)
				if err := sleep(ctx, settle); err != nil {
					return err
				}
				if m, err := bench.ReadMemory(pid); err == nil {
					report.Server.AfterLoad = &m
				}
				heapProfile(profiler, "after-load", progress)
			}
			if kubeconfig != "" && !keep {
				if err := bench.Cleanup(ctx, cfg, load.Namespace); err != nil {
					progress("cleanup of namespace %s: %v", load.Namespace, err)
				}
			}
			report.Machine.LoadAfter = bench.LoadAverage()
			report.FillTargets()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(report)
			}
			return report.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "target the server in this kubeconfig instead of starting one")
	f.IntVar(&pid, "pid", 0, "with --kubeconfig: the server's process id, to report its memory and CPU")
	f.StringVar(&opts.Namespace, "namespace", "", "namespace to write to (default skiff-bench-<unix time>)")
	f.IntVar(&opts.Creates, "creates", 5000, "ConfigMaps to create (get and list read them back)")
	f.IntVar(&opts.Clients, "clients", 16, "concurrent clients for creates and gets, each on its own connection")
	f.IntVar(&opts.GetsPerClient, "gets-per-client", 500, "GETs per client")
	f.IntVar(&opts.Lists, "lists", 30, "lists per variant (no limit, and paginated)")
	f.IntVar(&opts.ListLimit, "list-limit", 500, "page size of the paginated list")
	f.IntVar(&opts.Watchers, "watchers", 100, "concurrent watches on the namespace, each on its own connection")
	f.IntVar(&opts.WatchEvents, "watch-events", 1000, "stamped objects the watch-phase writer creates")
	f.Float64Var(&opts.WatchRate, "watch-rate", 100, "writes per second in the watch phase")
	f.StringSliceVar(&phases, "phases", bench.Phases, "phases to run, in order")
	f.DurationVar(&settle, "settle", 3*time.Second, "pause before each memory reading")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	f.BoolVar(&keep, "keep", false, "with --kubeconfig: keep the namespace and objects")
	f.StringVar(&profileDir, "profile-dir", "", "write a server CPU profile per phase here (runs the server in a profiled child)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the bench process (the clients)")
	f.StringArrayVar(&serverEnv, "server-env", nil, "KEY=VALUE added to the started server's environment (repeatable)")
	_ = f.MarkHidden("server-env")
	_ = f.MarkHidden("profile-dir")
	_ = f.MarkHidden("cpuprofile")
	cmd.AddCommand(profiledServerCommand())
	return cmd
}

// profiledServerCommand runs a server like `skiff server` does, plus a
// loopback HTTP listener for per-phase CPU profiles and heap profiles
// (bench.ProfileControl) for `skiff bench --profile-dir`. It takes only the flags bench
// passes.
func profiledServerCommand() *cobra.Command {
	var cfg server.Config
	var profileAddr string
	cmd := &cobra.Command{
		Use:    "profiled-server",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			mux := http.NewServeMux()
			mux.Handle("/bench/", http.StripPrefix("/bench", &bench.ProfileControl{}))
			ln, err := net.Listen("tcp", profileAddr)
			if err != nil {
				return err
			}
			ps := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = ps.Serve(ln) }()
			defer ps.Close()
			srv, err := server.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return srv.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&profileAddr, "profile-address", "127.0.0.1:6060", "loopback address for profile control")
	f.StringVar(&cfg.DataDir, "data-dir", "", "")
	f.IntVar(&cfg.HTTPSPort, "https-listen-port", 0, "")
	f.StringVar(&cfg.BindAddress, "bind-address", "127.0.0.1", "")
	f.StringVar(&cfg.AdvertiseAddress, "advertise-address", "127.0.0.1", "")
	f.StringVar(&cfg.KubeconfigPath, "write-kubeconfig", "", "")
	f.BoolVar(&cfg.DisableAgent, "disable-agent", false, "")
	return cmd
}

func heapProfile(p *bench.ProfileClient, name string, logf func(string, ...any)) {
	if p == nil {
		return
	}
	if err := p.Heap(name); err != nil {
		logf("heap profile %s: %v", name, err)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("not a TCP address")
	}
	return addr.Port, nil
}
