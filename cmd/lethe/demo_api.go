package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// demoAPI talks to the agent's API over its unix socket, as a business's
// own software would.
type demoAPI struct {
	socket string
	client *http.Client
}

func newDemoAPI(socket string) *demoAPI {
	return &demoAPI{socket: socket, client: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

// curl is the curl command that makes the same request; out, if set, is
// the file curl writes the answer to.
func (a *demoAPI) curl(method, path string, body []byte, out string) string {
	args := []string{"curl", "--unix-socket", a.socket}
	if method != http.MethodGet {
		args = append(args, "-X", method)
	}
	if out != "" {
		args = append(args, "-o", out)
	}
	args = append(args, "http://lethe"+path)
	if body != nil {
		args = append(args, "-H", "Content-Type: application/json", "-d", string(body))
	}
	return shellJoin(args)
}

// do makes a request and returns the answer's body; an answer other than
// want is an error.
func (a *demoAPI) do(ctx context.Context, method, path string, body []byte, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lethe"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	return data, nil
}

func (a *demoAPI) close() { a.client.CloseIdleConnections() }
