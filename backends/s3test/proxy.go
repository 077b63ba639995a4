package s3test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is one kind of injected failure.
type Fault int

// The faults the proxy injects.
const (
	// FaultNone forwards the request unchanged.
	FaultNone Fault = iota
	// FaultDrop closes the connection without forwarding the request.
	FaultDrop
	// Fault500 answers 500 InternalError without forwarding.
	Fault500
	// Fault503 answers 503 SlowDown (S3's throttling) without forwarding.
	Fault503
	// FaultDelay waits Delay, then forwards.
	FaultDelay
	// FaultCutResponse forwards the request, so the server acts on it,
	// then loses the answer: the connection closes after the headers
	// and half of the body (or before anything, if there is no body).
	FaultCutResponse
	numFaults
)

func (f Fault) String() string {
	return [...]string{"none", "drop", "500", "503-slowdown", "delay", "cut-response"}[f]
}

// FaultConfig says how often and how the proxy fails.
type FaultConfig struct {
	// Seed makes the sequence of decisions reproducible (the n-th request
	// to arrive always gets the same fate).
	Seed uint64
	// Rate is the share of requests that get a fault, 0 to 1.
	Rate float64
	// Faults to choose from (uniformly); empty: all of them.
	Faults []Fault
	// Delay for FaultDelay (default 200ms).
	Delay time.Duration
}

// FaultProxy is an HTTP proxy in front of an S3 server that injects
// faults into a fixed share of requests.
type FaultProxy struct {
	// Endpoint is the proxy's base URL, http://127.0.0.1:PORT.
	Endpoint string
	// Host is 127.0.0.1:PORT.
	Host string

	cfg      FaultConfig
	target   *url.URL
	proxy    *httputil.ReverseProxy
	upstream *http.Transport
	mu       sync.Mutex
	rng      *rand.Rand
	enabled  atomic.Bool
	counts   [numFaults]atomic.Int64
}

// NewFaultProxy starts a proxy to target (a base URL such as
// Server.Endpoint) on 127.0.0.1; it stops when the test ends. Faults are
// on from the start; see SetEnabled.
func NewFaultProxy(t testing.TB, target string, cfg FaultConfig) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("fault proxy target: %v", err)
	}
	if len(cfg.Faults) == 0 {
		for f := FaultDrop; f < numFaults; f++ {
			cfg.Faults = append(cfg.Faults, f)
		}
	}
	if cfg.Delay <= 0 {
		cfg.Delay = 200 * time.Millisecond
	}
	p := &FaultProxy{
		cfg:      cfg,
		target:   u,
		upstream: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true},
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
	p.enabled.Store(true)
	// The Host header is kept as the client sent it: it is part of the
	// request signature.
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		Transport: p.upstream,
	}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		p.upstream.CloseIdleConnections()
	})
	p.Endpoint = srv.URL
	p.Host = srv.Listener.Addr().String()
	return p
}

// SetEnabled turns fault injection on or off (requests are forwarded
// either way).
func (p *FaultProxy) SetEnabled(on bool) { p.enabled.Store(on) }

// Count returns how many requests got fault f.
func (p *FaultProxy) Count(f Fault) int64 { return p.counts[f].Load() }

// Faults returns the number of requests that got any fault.
func (p *FaultProxy) Faults() int64 {
	var n int64
	for f := FaultDrop; f < numFaults; f++ {
		n += p.counts[f].Load()
	}
	return n
}

func (p *FaultProxy) decide() Fault {
	if !p.enabled.Load() {
		return FaultNone
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rng.Float64() >= p.cfg.Rate {
		return FaultNone
	}
	return p.cfg.Faults[p.rng.IntN(len(p.cfg.Faults))]
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	f := p.decide()
	p.counts[f].Add(1)
	switch f {
	case FaultDrop:
		_, _ = io.Copy(io.Discard, r.Body)
		hijackClose(w)
	case Fault500:
		_, _ = io.Copy(io.Discard, r.Body)
		s3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case Fault503:
		_, _ = io.Copy(io.Discard, r.Body)
		s3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case FaultDelay:
		select {
		case <-time.After(p.cfg.Delay):
		case <-r.Context().Done():
			return
		}
		p.proxy.ServeHTTP(w, r)
	case FaultCutResponse:
		p.cutResponse(w, r)
	default:
		p.proxy.ServeHTTP(w, r)
	}
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><RequestId>fault-proxy</RequestId></Error>`, code, msg)
}

func hijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fault proxy: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

// cutResponse forwards r, then sends the status line, the headers and
// half of the body before closing the connection.
func (p *FaultProxy) cutResponse(w http.ResponseWriter, r *http.Request) {
	out := r.Clone(r.Context())
	out.URL.Scheme = p.target.Scheme
	out.URL.Host = p.target.Host
	out.RequestURI = ""
	out.Host = r.Host
	resp, err := p.upstream.RoundTrip(out)
	if err != nil {
		hijackClose(w)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fault proxy: connection cannot be hijacked")
	}
	conn, bw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if len(body) < 2 {
		return // the request was carried out; its answer is lost
	}
	writeCut(bw, resp, body)
}

func writeCut(bw *bufio.ReadWriter, resp *http.Response, body []byte) {
	fmt.Fprintf(bw, "HTTP/1.1 %s\r\n", resp.Status)
	resp.Header.Del("Transfer-Encoding")
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Header.Set("Connection", "close")
	_ = resp.Header.Write(bw)
	_, _ = bw.WriteString("\r\n")
	_, _ = bw.Write(body[:len(body)/2])
	_ = bw.Flush()
}
