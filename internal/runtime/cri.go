package runtime

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxMsgSize bounds CRI messages, as large ListContainers answers need.
const maxMsgSize = 16 << 20

// Client is a CRI v1 client over one gRPC connection. Its two embedded
// service clients are safe for concurrent use.
type Client struct {
	runtimeapi.RuntimeServiceClient
	runtimeapi.ImageServiceClient
	conn *grpc.ClientConn
}

// Dial connects to a CRI endpoint: unix:///path/to.sock or a bare socket
// path. The connection is made lazily; use Version to check it.
func Dial(ctx context.Context, endpoint string) (*Client, error) {
	if !strings.Contains(endpoint, "://") {
		endpoint = "unix://" + endpoint
	}
	conn, err := grpc.NewClient(endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)))
	if err != nil {
		return nil, fmt.Errorf("runtime: dialing %s: %w", endpoint, err)
	}
	return &Client{
		RuntimeServiceClient: runtimeapi.NewRuntimeServiceClient(conn),
		ImageServiceClient:   runtimeapi.NewImageServiceClient(conn),
		conn:                 conn,
	}, nil
}

// RuntimeVersion asks the runtime its name and version; it is the readiness probe.
func (c *Client) RuntimeVersion(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	return c.RuntimeServiceClient.Version(ctx, &runtimeapi.VersionRequest{Version: "v1"})
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }
