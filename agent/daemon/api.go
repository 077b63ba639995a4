package daemon

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sys/unix"

	"lethe/agent/jobs"
	"lethe/agent/receipts"
	"lethe/tombstones"
)

// SocketGroup is the group that owns the API socket when it exists, so
// that its members may use the API.
const SocketGroup = "lethe"

// maxRequestBody bounds a request's body: an erasure request is small.
const maxRequestBody = 64 << 10

// Error codes of the API; they are stable, messages are not.
const (
	CodeInvalidRequest   = "invalid_request"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeNotReady         = "not_ready"
	CodeInternal         = "internal"
)

// ListenUnix listens on a unix socket at path with the given mode, owned
// by group SocketGroup if there is one. It refuses a directory anyone
// may write to (anyone could replace the socket there) and a socket
// another process still listens on; a stale socket is replaced.
func ListenUnix(path string, mode fs.FileMode) (net.Listener, error) {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("API socket directory: %w", err)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return nil, fmt.Errorf("API socket directory %s is writable by anyone; use a directory only the agent writes to (the unit's RuntimeDirectory=)", dir)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("API socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("API socket %s: another process listens on it (is the agent running already?)", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale API socket: %w", err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("API socket: %w", err)
	}
	if ul, ok := l.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(true)
	}
	if g, err := user.LookupGroup(SocketGroup); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil {
			if err := os.Chown(path, -1, gid); err != nil {
				l.Close()
				return nil, fmt.Errorf("API socket: giving it to group %s: %w", SocketGroup, err)
			}
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("API socket: %w", err)
	}
	return l, nil
}

// Peer is the process at the other end of an API connection, from the
// kernel (SO_PEERCRED).
type Peer struct {
	PID      int32
	UID, GID uint32
}

type peerKey struct{}

// peerContext adds the connection's peer credentials to ctx.
func peerContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, Peer{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid})
}

// PeerFrom returns the peer of the request's connection; ok is false for
// a connection that is not over a unix socket.
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// Handler returns the local API and /metrics.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/erasures", d.method(map[string]http.HandlerFunc{"GET": d.listErasures, "POST": d.postErasure}))
	mux.HandleFunc("/v1/erasures/{id}", d.method(map[string]http.HandlerFunc{"GET": d.getErasure}))
	mux.HandleFunc("/v1/backups", d.method(map[string]http.HandlerFunc{"POST": d.postBackup}))
	mux.HandleFunc("/v1/status", d.method(map[string]http.HandlerFunc{"GET": d.getStatus}))
	mux.HandleFunc("/v1/receipts/{id}", d.method(map[string]http.HandlerFunc{"GET": d.getReceipt}))
	mux.Handle("/metrics", d.MetricsHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint")
	})
	return d.logRequests(mux)
}

// MetricsHandler serves the Prometheus metrics.
func (d *Daemon) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{Registry: d.metrics.reg})
}

// method dispatches by request method, with a JSON error for others.
func (d *Daemon) method(h map[string]http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if f, ok := h[r.Method]; ok {
			f(w, r)
			return
		}
		var allow []string
		for m := range h {
			allow = append(allow, m)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method "+r.Method+" is not allowed here")
	}
}

// statusWriter remembers the status code for the access log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// logRequests logs who called what: the caller's uid, gid and pid, the
// method, the path and the status. Bodies and queries are never logged:
// an erasure request holds identifiers.
func (d *Daemon) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.code}
		if p, ok := PeerFrom(r.Context()); ok {
			attrs = append(attrs, "uid", p.UID, "gid", p.GID, "pid", p.PID)
		}
		level := slog.LevelInfo
		if r.URL.Path == "/metrics" {
			level = slog.LevelDebug
		}
		d.log.Log(r.Context(), level, "API request", attrs...)
	})
}

// apiError is the body of every error response.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// erasureRequestJSON is the body of POST /v1/erasures.
type erasureRequestJSON struct {
	Identifiers []struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	} `json:"identifiers"`
	Reason    string `json:"reason"`
	Reference string `json:"reference"`
	Mode      string `json:"mode"`
}

func (d *Daemon) postErasure(w http.ResponseWriter, r *http.Request) {
	var body erasureRequestJSON
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		// The decoder's message may quote the body; say only where.
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "the body is not an erasure request in JSON: "+jsonProblem(err))
		return
	}
	n, err := d.cfg.Identifiers.Normalizer()
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
		return
	}
	req := ErasureRequest{Reason: body.Reason, Reference: body.Reference, Mode: body.Mode}
	for i, id := range body.Identifiers {
		kind := tombstones.Kind(id.Kind)
		if !n.Known(kind) {
			writeError(w, http.StatusBadRequest, CodeInvalidRequest, fmt.Sprintf("identifier %d: unknown kind %q", i+1, id.Kind))
			return
		}
		req.Identifiers = append(req.Identifiers, tombstones.Identifier{Kind: kind, Value: id.Value})
	}
	if len(req.Identifiers) == 0 {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "no identifiers given")
		return
	}
	st, err := d.FileErasure(r.Context(), req)
	switch {
	case errors.Is(err, ErrNotReady):
		writeError(w, http.StatusServiceUnavailable, CodeNotReady, err.Error()+"; try again shortly")
		return
	case err != nil:
		// Record's errors name identifiers by number and kind only.
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, err.Error())
		return
	}
	w.Header().Set("Location", "/v1/erasures/"+st.ID)
	writeJSON(w, http.StatusCreated, st)
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s: want %s", typ.Field, typ.Type)
	case errors.As(err, &big):
		return fmt.Sprintf("larger than %d bytes", big.Limit)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "cannot be decoded"
}

func (d *Daemon) listErasures(w http.ResponseWriter, r *http.Request) {
	all, err := d.Erasures()
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
		return
	}
	if all == nil {
		all = []ErasureStatus{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"erasures": all})
}

func (d *Daemon) getErasure(w http.ResponseWriter, r *http.Request) {
	id := strings.ToUpper(r.PathValue("id"))
	if !tombstones.ValidID(id) {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "not an erasure id")
		return
	}
	st, ok, err := d.Erasure(id)
	switch {
	case err != nil:
		writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
	case !ok:
		writeError(w, http.StatusNotFound, CodeNotFound, "no erasure with id "+id)
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

func (d *Daemon) postBackup(w http.ResponseWriter, r *http.Request) {
	queued := d.BackupNow()
	if queued == nil {
		queued = []string{}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"queued": queued})
}

func (d *Daemon) getStatus(w http.ResponseWriter, r *http.Request) {
	st, err := d.Status()
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// getReceipt serves a receipt, by its id or its request's (then the
// latest in any repository: each repository holds the receipt issued
// when the erasure was done there, and only the last is final), checked
// against the agent's signing key: ?format=json (the signed file,
// default), text, md or html and ?lang=sv or en.
func (d *Daemon) getReceipt(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	format, err := receipts.ParseFormat(cmp.Or(r.URL.Query().Get("format"), "json"))
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, err.Error())
		return
	}
	lang, err := receipts.ParseLang(cmp.Or(r.URL.Query().Get("lang"), "sv"))
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, err.Error())
		return
	}
	var all []receipts.Receipt
	for _, repo := range d.repos {
		rs, err := d.receiptsIn(r.Context(), repo)
		if err != nil {
			d.log.Warn("reading receipts", "repository", repo.Name, "error", err.Error())
			continue
		}
		all = append(all, rs...)
	}
	rc, ok := receipts.Find(all, id)
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no receipt "+id)
		return
	}
	ctype := map[receipts.Format]string{"json": "application/json", "text": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}[format]
	w.Header().Set("Content-Type", ctype)
	if err := receipts.Render(w, rc, format, lang); err != nil {
		d.log.Warn("rendering a receipt", "error", err.Error())
	}
}

// receiptsIn returns the receipts of a repository signed with the
// agent's key.
func (d *Daemon) receiptsIn(ctx context.Context, repo Repository) ([]receipts.Receipt, error) {
	rr, err := jobs.Open(ctx, repo.Repo)
	if err != nil {
		return nil, err
	}
	defer jobs.Close(rr)
	store := []tombstones.Repo{{Name: repo.Name, Store: rr}}
	key, err := (&receipts.Keys{StateDir: d.cfg.StateDir, Repos: store}).Load(ctx)
	if err != nil || key == nil {
		return nil, err
	}
	return receipts.List(ctx, rr, key.Public().(ed25519.PublicKey))
}

// serve serves h on l until ctx is done, then shuts the server down.
func serve(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) func() {
	srv := &http.Server{
		Handler:           h,
		ConnContext:       peerContext,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server failed", "error", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}
}
