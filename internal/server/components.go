package server

import (
	"context"
	"sync"

	"github.com/skiff-sh/skiff/internal/controller/manager"
)

// startComponents starts the control-plane components that are API
// clients (the controller manager), each under its own identity. They stop
// when ctx ends; Wait on the returned group waits for them.
func (s *Server) startComponents(ctx context.Context) (*sync.WaitGroup, error) {
	var wg sync.WaitGroup
	if !s.cfg.DisableControllerManager {
		cfg, err := s.bundle.RestConfig(s.url, "system:kube-controller-manager", nil)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := manager.Run(ctx, cfg, manager.Options{LeaderElect: true, Logger: s.cfg.Logger.With("component", "controller-manager")})
			if err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("controller manager stopped", "err", err)
			}
		}()
	}
	return &wg, nil
}
