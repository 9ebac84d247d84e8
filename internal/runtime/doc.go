// Package runtime is the node agent's side of the container runtime: it
// starts and supervises containerd from the system package (Containerd),
// talks CRI to it or to any other CRI runtime (Dial), builds image tarballs
// in docker-archive format (WriteDockerArchive), produces the pause
// (sandbox) image itself (WritePauseImage) and imports tarballs into the
// runtime's image store (Import, ImportDir). Registries translates k3s's
// registries.yaml (mirrors, credentials, TLS) into containerd's hosts.toml
// files and CRI registry configuration, which Containerd.Run writes.
//
// Containerd.Run owns the containerd process: it writes the configuration
// under its directory, starts the process, restarts it when it dies and
// stops it (SIGTERM, then SIGKILL) when its context ends. Running
// containers outlive containerd: their shims are separate processes, so an
// agent restart re-adopts them.
//
// Nothing here keeps package-level state; every type documents its own
// concurrency rules.
package runtime
