package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"
)

// ErrStaleSocket is returned by Dial for a socket nothing listens on: the
// agent stopped without removing it.
var ErrStaleSocket = errors.New("nothing listens on the API socket")

// Client calls the local API over the agent's unix socket, as the CLI
// does when the agent runs.
type Client struct {
	socket string
	hc     *http.Client
}

// Dial returns a client of the agent listening on socket once the socket
// answers. With no socket the error wraps fs.ErrNotExist; with a socket
// nothing listens on, ErrStaleSocket. Any other error (no permission to
// connect) says nothing of whether the agent runs.
func Dial(ctx context.Context, socket string) (*Client, error) {
	fi, err := os.Lstat(socket)
	if err != nil {
		return nil, fmt.Errorf("API socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return nil, fmt.Errorf("API socket %s: not a socket", socket)
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "unix", socket)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("API socket %s: %w", socket, ErrStaleSocket)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to the agent's API: %w", err)
	}
	c.Close()
	return &Client{socket: socket, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socket)
		},
	}}}, nil
}

// APIError is an error response of the API.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("the agent answered %d %s: %s", e.Status, e.Code, e.Message)
}

// do sends a request and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lethe"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e apiError
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return nil
}

// FileErasure files an erasure request (POST /v1/erasures); the agent
// records it and carries it out in every repository.
func (c *Client) FileErasure(ctx context.Context, req ErasureRequest) (ErasureStatus, error) {
	var body erasureRequestJSON
	body.Reason, body.Reference, body.Mode = req.Reason, req.Reference, req.Mode
	for _, id := range req.Identifiers {
		body.Identifiers = append(body.Identifiers, struct {
			Kind  string `json:"kind"`
			Value string `json:"value"`
		}{string(id.Kind), id.Value})
	}
	var st ErasureStatus
	err := c.do(ctx, http.MethodPost, "/v1/erasures", body, &st)
	return st, err
}

// Erasures lists the erasure requests (GET /v1/erasures).
func (c *Client) Erasures(ctx context.Context) ([]ErasureStatus, error) {
	var out struct {
		Erasures []ErasureStatus `json:"erasures"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/erasures", nil, &out)
	return out.Erasures, err
}

// Erasure returns one erasure request (GET /v1/erasures/{id}).
func (c *Client) Erasure(ctx context.Context, id string) (ErasureStatus, error) {
	var st ErasureStatus
	err := c.do(ctx, http.MethodGet, "/v1/erasures/"+url.PathEscape(id), nil, &st)
	return st, err
}

// Receipt returns the signed receipt file (the JSON format of
// GET /v1/receipts/{id}) of a receipt id, or the latest of a request id;
// ok is false when there is none. receipts.Verify checks it.
func (c *Client) Receipt(ctx context.Context, id string) (file []byte, ok bool, err error) {
	var raw json.RawMessage
	err = c.do(ctx, http.MethodGet, "/v1/receipts/"+url.PathEscape(id), nil, &raw)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, false, nil
	}
	return raw, err == nil, err
}
