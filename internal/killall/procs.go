package killall

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// proc is one process as /proc shows it.
type proc struct {
	pid, ppid int
	args      []string
	exe       string // "" when unreadable (kernel threads, gone)
	zombie    bool
}

// listProcs reads every process in /proc; processes that exit meanwhile
// are skipped.
func listProcs() []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readProc(pid)
		if ok {
			out = append(out, p)
		}
	}
	return out
}

func readProc(pid int) (proc, bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return proc{}, false
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return proc{}, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 2 {
		return proc{}, false
	}
	p := proc{pid: pid, zombie: fields[0] == "Z" || fields[0] == "X"}
	p.ppid, _ = strconv.Atoi(fields[1])
	if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		p.args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		p.exe = strings.TrimSuffix(exe, " (deleted)")
	}
	return p, true
}

// alive reports whether pid still runs (a zombie does not).
func alive(pid int) bool {
	p, ok := readProc(pid)
	return ok && !p.zombie
}

// argAfter returns the argument following flag (or joined as flag=V).
func argAfter(args []string, flag string) (string, bool) {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
	}
	return "", false
}

// descendants returns pids and every process below them.
func descendants(procs []proc, pids []int) []int {
	children := map[int][]int{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []int
	seen := map[int]bool{}
	queue := slices.Clone(pids)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] || pid <= 1 {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out
}

// daemon is a running `skiff server` or `skiff agent`.
type daemon struct {
	pid     int
	command string // server or agent
	dataDir string // absolute
	netns   string // readlink of /proc/PID/ns/net
}

// skiffDaemons finds running skiff servers and agents: processes whose
// executable is this one or named skiff*, started as `skiff server` or
// `skiff agent`.
func skiffDaemons(procs []proc) []daemon {
	self, _ := os.Executable()
	var out []daemon
	for _, p := range procs {
		if p.pid == os.Getpid() || p.zombie || len(p.args) < 2 {
			continue
		}
		if p.exe != self && !strings.HasPrefix(filepath.Base(p.exe), "skiff") && !strings.HasPrefix(filepath.Base(p.args[0]), "skiff") {
			continue
		}
		if p.args[1] != "server" && p.args[1] != "agent" {
			continue
		}
		d := daemon{pid: p.pid, command: p.args[1], dataDir: DefaultDataDir}
		if v, ok := argAfter(p.args, "--data-dir"); ok {
			d.dataDir = v
		} else if v, ok := argAfter(p.args, "-d"); ok {
			d.dataDir = v
		}
		if !filepath.IsAbs(d.dataDir) {
			if cwd, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(p.pid), "cwd")); err == nil {
				d.dataDir = filepath.Join(cwd, d.dataDir)
			}
		}
		d.dataDir = filepath.Clean(d.dataDir)
		d.netns, _ = os.Readlink(filepath.Join("/proc", strconv.Itoa(p.pid), "ns", "net"))
		out = append(out, d)
	}
	return out
}
