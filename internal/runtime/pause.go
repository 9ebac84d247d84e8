package runtime

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	goruntime "runtime"
)

// PauseImage is the sandbox image the agent builds, imports and configures
// as containerd's sandbox_image. No registry is needed for it.
const PauseImage = "skiff.local/pause:1"

// WritePauseImage writes PauseImage in docker-archive format for the
// agent's architecture: a single static /pause executable that blocks
// forever. It holds the pod's namespaces; containerd stops it with SIGKILL.
func WritePauseImage(w io.Writer) error {
	bin, err := PauseBinary(goruntime.GOARCH)
	if err != nil {
		return err
	}
	return WriteDockerArchive(w, PauseImage,
		[]File{{Name: "pause", Mode: 0o755, Data: bin}},
		ImageConfig{Entrypoint: []string{"/pause"}})
}

// PauseBinary returns a minimal static ELF executable for arch (amd64 or
// arm64) whose only work is to wait in the kernel forever: a loop around
// pause(2) on amd64, around ppoll(2) with no descriptors on arm64 (which
// has no pause). It is about two hundred bytes, needs no libc, and being
// PID 1 of the pod it ignores signals it has no handler for, as a
// sandbox's holder process should.
func PauseBinary(arch string) ([]byte, error) {
	var machine elf.Machine
	var code []byte
	switch arch {
	case "amd64":
		machine = elf.EM_X86_64
		code = []byte{
			0xb8, 0x22, 0x00, 0x00, 0x00, // mov eax, 34 (SYS_pause)
			0x0f, 0x05, // syscall
			0xeb, 0xf7, // jmp back to mov (-9)
		}
	case "arm64":
		machine = elf.EM_AARCH64
		for _, insn := range []uint32{
			0xd2800000, // mov x0, #0 (fds = NULL)
			0xd2800001, // mov x1, #0 (nfds = 0)
			0xd2800002, // mov x2, #0 (no timeout)
			0xd2800003, // mov x3, #0 (no sigmask)
			0xd2800928, // mov x8, #73 (SYS_ppoll)
			0xd4000001, // svc #0
			0x17fffffa, // b back to the first mov (-6 instructions)
		} {
			code = binary.LittleEndian.AppendUint32(code, insn)
		}
	default:
		return nil, fmt.Errorf("runtime: no pause binary for architecture %q", arch)
	}
	const (
		base      = 0x400000
		ehdrSize  = 64
		phdrSize  = 56
		codeStart = ehdrSize + phdrSize
	)
	size := uint64(codeStart + len(code))
	var b bytes.Buffer
	le := binary.LittleEndian
	put := func(v any) { _ = binary.Write(&b, le, v) }
	// ELF header.
	b.Write([]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), byte(elf.ELFOSABI_NONE)})
	b.Write(make([]byte, 8)) // rest of e_ident
	put(uint16(elf.ET_EXEC))
	put(uint16(machine))
	put(uint32(elf.EV_CURRENT))
	put(uint64(base + codeStart)) // e_entry
	put(uint64(ehdrSize))         // e_phoff
	put(uint64(0))                // e_shoff: no sections
	put(uint32(0))                // e_flags
	put(uint16(ehdrSize))
	put(uint16(phdrSize))
	put(uint16(1))  // e_phnum
	put(uint16(64)) // e_shentsize
	put(uint16(0))  // e_shnum
	put(uint16(0))  // e_shstrndx
	// One loadable, readable and executable segment: the whole file.
	put(uint32(elf.PT_LOAD))
	put(uint32(elf.PF_R | elf.PF_X))
	put(uint64(0))    // p_offset
	put(uint64(base)) // p_vaddr
	put(uint64(base)) // p_paddr
	put(size)         // p_filesz
	put(size)         // p_memsz
	put(uint64(0x1000))
	b.Write(code)
	return b.Bytes(), nil
}
