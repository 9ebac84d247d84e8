package runtime

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	goruntime "runtime"
	"strings"
	"time"
)

// File is one entry of an image layer.
type File struct {
	// Name is the path inside the image, relative or absolute.
	Name string
	// Mode holds the permission bits; fs.ModeDir and fs.ModeSymlink mark
	// directories and symbolic links.
	Mode fs.FileMode
	// Data is a regular file's content.
	Data []byte
	// Link is a symbolic link's target.
	Link string
}

// ImageConfig is the part of an image's configuration Skiff sets.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	// Architecture defaults to the agent's (GOARCH).
	Architecture string
}

// WriteDockerArchive writes an image named ref (e.g. skiff.local/busybox:1)
// with one layer holding files to w in docker-archive format (what `docker
// save` writes: manifest.json, the configuration and layer.tar), which
// `ctr images import` and Import read. Parent directories of files are
// added to the layer as needed. The output is deterministic.
func WriteDockerArchive(w io.Writer, ref string, files []File, cfg ImageConfig) error {
	layer, err := layerTar(files)
	if err != nil {
		return err
	}
	layerSum := sha256.Sum256(layer)
	layerHex := hex.EncodeToString(layerSum[:])
	arch := cfg.Architecture
	if arch == "" {
		arch = goruntime.GOARCH
	}
	env := cfg.Env
	if len(env) == 0 {
		env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	type containerConfig struct {
		Entrypoint []string `json:",omitempty"`
		Cmd        []string `json:",omitempty"`
		Env        []string `json:",omitempty"`
		WorkingDir string   `json:",omitempty"`
	}
	config, err := json.Marshal(map[string]any{
		"architecture": arch,
		"os":           "linux",
		"created":      time.Unix(0, 0).UTC(),
		"config":       containerConfig{Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Env: env, WorkingDir: cfg.WorkingDir},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerHex}},
		"history":      []map[string]any{{"created": time.Unix(0, 0).UTC(), "created_by": "skiff"}},
	})
	if err != nil {
		return err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	layerName := layerHex + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   configName,
		"RepoTags": []string{ref},
		"Layers":   []string{layerName},
	}})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{{layerHex + "/", nil}, {layerName, layer}, {configName, config}, {"manifest.json", manifest}}
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if strings.HasSuffix(e.name, "/") {
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("runtime: image archive: %w", err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("runtime: image archive: %w", err)
		}
	}
	return tw.Close()
}

// layerTar returns the layer holding files, parent directories first.
func layerTar(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	var addDir func(dir string) error
	addDir = func(dir string) error {
		if dir == "." || dir == "/" || dir == "" || seen[dir] {
			return nil
		}
		if err := addDir(path.Dir(dir)); err != nil {
			return err
		}
		seen[dir] = true
		return tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)})
	}
	for _, f := range files {
		name := strings.TrimPrefix(path.Clean("/"+f.Name), "/")
		if name == "" {
			return nil, fmt.Errorf("runtime: image file with an empty name")
		}
		if err := addDir(path.Dir(name)); err != nil {
			return nil, err
		}
		hdr := &tar.Header{Name: name, Mode: int64(f.Mode.Perm()), ModTime: time.Unix(0, 0)}
		switch {
		case f.Mode&fs.ModeDir != 0:
			if seen[name] {
				continue
			}
			seen[name] = true
			hdr.Name, hdr.Typeflag = name+"/", tar.TypeDir
		case f.Mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, f.Link, 0o777
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.Data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("runtime: image layer: %w", err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, fmt.Errorf("runtime: image layer: %w", err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
