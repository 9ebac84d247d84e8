package server

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/controller/certificates"
	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/leader"
	"github.com/skiff-sh/skiff/internal/scheduler"
)

// startComponents starts the control-plane components that are API
// clients (the controller manager, the scheduler and the node agent), each under its own identity. They stop
// when ctx ends; Wait on the returned group waits for them.
func (s *Server) startComponents(ctx context.Context) (*sync.WaitGroup, error) {
	var wg sync.WaitGroup
	if !s.cfg.DisableControllerManager {
		cfg, err := s.bundle.RestConfig(s.url, controllerManagerUser, nil)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := manager.Options{
				LeaderElect: true,
				RootCACert:  s.bundle.CACertPEM(),
				ClusterCIDR: s.cfg.ClusterCIDR,
				Logger:      s.cfg.Logger.With("component", "controller-manager"),
				// Each controller as its own service account, as k3s
				// runs upstream's (--use-service-account-credentials).
				UseServiceAccountCredentials: true,
				SigningCA:                    certificates.CA{Cert: s.bundle.CACert(), Key: s.bundle.CAKey()},
			}
			opts.LeaderElection.Name = controllerManagerLease
			s.managerState.set(true)
			defer s.managerState.set(false)
			err := manager.Run(ctx, cfg, opts)
			if err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("controller manager stopped", "err", err)
			}
		}()
	}
	if !s.cfg.DisableScheduler {
		cfg, err := s.bundle.RestConfig(s.url, schedulerUser, nil)
		if err != nil {
			return nil, err
		}
		sc := scheduler.DefaultConfig()
		if s.cfg.SchedulerConfig != "" {
			if sc, err = scheduler.LoadConfig(s.cfg.SchedulerConfig); err != nil {
				return nil, err
			}
		}
		sc.LeaderElection.Enabled = true
		cfg.QPS, cfg.Burst = 1000, 2000
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		// Renewals go on a connection and rate limit of their own, so
		// a busy scheduler cannot make itself lose the Lease.
		leaseClient, err := leader.NewClient(cfg)
		if err != nil {
			return nil, err
		}
		sched, err := scheduler.New(client, informers.NewSharedInformerFactory(client, 0), scheduler.Options{
			Config: sc, Logger: s.cfg.Logger.With("component", "scheduler"), LeaseClient: leaseClient,
		})
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.schedulerState.set(true)
			defer s.schedulerState.set(false)
			if err := sched.Run(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("scheduler stopped", "err", err)
			}
		}()
	}
	if !s.cfg.DisableAgent {
		name := s.cfg.NodeName
		if name == "" {
			host, err := os.Hostname()
			if err != nil {
				return nil, err
			}
			name = strings.ToLower(host)
		}
		cfg, err := s.bundle.RestConfig(s.url, "system:node:"+name, []string{auth.NodesGroup})
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := kubelet.RunAgent(ctx, kubelet.AgentConfig{
				DataDir: s.cfg.DataDir, NodeName: name, NodeIP: net.ParseIP(s.cfg.AdvertiseAddress), RestConfig: cfg,
				KubeletPort: kubelet.KubeletPort,
				Cluster:     &s.cluster,
				Eviction:    s.cfg.Eviction,
				Logger:      s.cfg.Logger.With("component", "agent"),
			})
			if err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("node agent stopped", "err", err)
			}
		}()
	}
	return &wg, nil
}
