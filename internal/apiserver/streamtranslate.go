package apiserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
)

// WebSocket clients of exec, attach and port-forward (kubectl 1.30+ and
// other client-go users) are served by the API server itself and bridged
// to the node agent over SPDY, the protocol agents and CRI runtimes speak:
//
//   - exec and attach over v5.channel.k8s.io (or v4): one WebSocket
//     message per write, its first byte the stream (0 stdin, 1 stdout,
//     2 stderr, 3 error, 4 terminal size; v5 adds 255 "close channel N").
//     The API server runs the same request against the agent with a SPDY
//     client, copies the streams, and reports the outcome as a Status on
//     channel 3 (NonZeroExitCode with an ExitCode cause for a failed
//     command) before closing the connection.
//   - port-forward tunnelled as SPDY inside a WebSocket (subprotocol
//     SPDY/3.1+portforward.k8s.io): the API server upgrades to SPDY at the
//     agent first, then accepts the WebSocket and copies bytes both ways,
//     so the client's SPDY session runs end to end with the runtime.
//
// Other WebSocket protocols are proxied to the agent as they are.

// remoteCommandProtocols are the channel layouts of exec and attach.
var remoteCommandProtocols = func() map[string]wsstream.ChannelProtocolConfig {
	channels := []wsstream.ChannelType{
		wsstream.ReadChannel,  // stdin
		wsstream.WriteChannel, // stdout
		wsstream.WriteChannel, // stderr
		wsstream.WriteChannel, // error
		wsstream.ReadChannel,  // terminal size
	}
	return map[string]wsstream.ChannelProtocolConfig{
		"v5.channel.k8s.io": {Binary: true, Channels: channels},
		"v4.channel.k8s.io": {Binary: true, Channels: channels},
	}
}()

// Stream numbers of remoteCommandProtocols.
const (
	streamStdin = iota
	streamStdout
	streamStderr
	streamError
	streamResize
)

// portForwardTunnel is the WebSocket subprotocol of SPDY port-forwarding.
const portForwardTunnel = "SPDY/3.1+portforward.k8s.io"

// streamIdleTimeout closes an exec or attach WebSocket that carried
// nothing for this long, as the agent's streams are.
const streamIdleTimeout = 4 * time.Hour

// translatable reports whether the WebSocket request is one the API
// server bridges itself.
func translatable(r *http.Request, subresource string) bool {
	if !wsstream.IsWebSocketRequest(r) {
		return false
	}
	for _, p := range strings.Split(r.Header.Get("Sec-WebSocket-Protocol"), ",") {
		p = strings.TrimSpace(p)
		if subresource == "portforward" && p == portForwardTunnel {
			return true
		}
		if _, ok := remoteCommandProtocols[p]; ok && subresource != "portforward" {
			return true
		}
	}
	return false
}

// translateRemoteCommand serves an exec or attach WebSocket by running the
// request against the agent at loc over SPDY.
func (s *APIServer) translateRemoteCommand(w http.ResponseWriter, r *http.Request, loc *url.URL) {
	q := r.URL.Query()
	flag := func(name string) bool { v, _ := strconv.ParseBool(q.Get(name)); return v }
	tty := flag("tty")

	conn := wsstream.NewConn(remoteCommandProtocols)
	conn.SetIdleTimeout(streamIdleTimeout)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		// The handshake has answered the client already.
		return
	}
	defer conn.Close()

	opts := remotecommand.StreamOptions{Tty: tty}
	if flag("stdin") {
		opts.Stdin = streams[streamStdin]
	}
	if flag("stdout") {
		opts.Stdout = streams[streamStdout]
	}
	if flag("stderr") && !tty {
		opts.Stderr = streams[streamStderr]
	}
	if tty {
		opts.TerminalSizeQueue = sizeQueue{json.NewDecoder(streams[streamResize])}
	}
	err = s.cfg.Kubelet.stream(r.Context(), loc, opts)
	data, _ := json.Marshal(commandStatus(err))
	_, _ = streams[streamError].Write(data)
}

// stream runs an exec or attach request against an agent over SPDY.
func (c *KubeletClient) stream(ctx context.Context, loc *url.URL, opts remotecommand.StreamOptions) error {
	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{TLS: c.tlsConfig(), PingPeriod: 5 * time.Second})
	if err != nil {
		return err
	}
	executor, err := remotecommand.NewSPDYExecutorForTransports(rt, rt, http.MethodPost, loc)
	if err != nil {
		return err
	}
	return executor.StreamWithContext(ctx, opts)
}

// commandStatus is the Status reported on the error stream.
func commandStatus(err error) *metav1.Status {
	st := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess}
	if err == nil {
		return st
	}
	st.Status = metav1.StatusFailure
	var exit exec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		st.Reason = "NonZeroExitCode"
		st.Message = fmt.Sprintf("command terminated with non-zero exit code: %v", err)
		st.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(exit.ExitStatus())}}}
		return st
	}
	st.Reason = metav1.StatusReasonInternalError
	st.Code = http.StatusInternalServerError
	st.Message = err.Error()
	return st
}

// sizeQueue reads the client's terminal sizes, JSON objects one after
// another, from the resize stream.
type sizeQueue struct{ dec *json.Decoder }

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	var size remotecommand.TerminalSize
	if err := q.dec.Decode(&size); err != nil {
		return nil
	}
	return &size
}

// tunnelPortForward serves a port-forward WebSocket carrying SPDY: it
// upgrades to SPDY at the agent, then accepts the WebSocket and copies
// bytes between the two. A refused upgrade is answered before the
// WebSocket is accepted, so the client may fall back.
func (s *APIServer) tunnelPortForward(w http.ResponseWriter, r *http.Request, loc *url.URL) {
	backend, err := s.cfg.Kubelet.upgrade(r.Context(), loc, "portforward.k8s.io")
	if err != nil {
		proxyResponder{}.Error(w, r, err)
		return
	}
	defer backend.Close()
	websocket.Server{
		Handshake: func(cfg *websocket.Config, _ *http.Request) error {
			for _, p := range cfg.Protocol {
				if p == portForwardTunnel {
					cfg.Protocol = []string{p}
					return nil
				}
			}
			return fmt.Errorf("unsupported protocols %v", cfg.Protocol)
		},
		Handler: func(ws *websocket.Conn) {
			ws.PayloadType = websocket.BinaryFrame
			splice(ws, backend)
		},
	}.ServeHTTP(w, r)
}

// upgradedConn is a connection upgraded to SPDY: reads come first from
// what was buffered with the 101 response.
type upgradedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c upgradedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// upgrade sends a SPDY upgrade request for protocol to the agent at loc
// and returns the upgraded connection.
func (c *KubeletClient) upgrade(ctx context.Context, loc *url.URL, protocol string) (net.Conn, error) {
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 30 * time.Second}, Config: c.tlsConfig()}
	conn, err := dialer.DialContext(ctx, "tcp", loc.Host)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, loc.String(), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	req.Header.Set("X-Stream-Protocol-Version", protocol)
	br := bufio.NewReader(conn)
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		conn.Close()
		return nil, fmt.Errorf("upgrade refused with %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	_ = conn.SetDeadline(time.Time{})
	return upgradedConn{Conn: conn, r: br}, nil
}

// splice copies between a and b until either side ends, then closes both.
func splice(a, b io.ReadWriteCloser) {
	var once sync.Once
	done := make(chan struct{})
	closeBoth := func() {
		once.Do(func() {
			a.Close()
			b.Close()
			close(done)
		})
	}
	go func() { _, _ = io.Copy(a, b); closeBoth() }()
	go func() { _, _ = io.Copy(b, a); closeBoth() }()
	<-done
}
