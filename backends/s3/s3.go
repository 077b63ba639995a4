// Package s3 stores a repository in an S3 bucket (AWS S3 and S3-compatible
// services such as MinIO, Ceph RGW, Backblaze B2, Wasabi).
//
// The object layout is restic's: keys are <prefix>/config,
// <prefix>/data/ab/<id>, <prefix>/keys/<id> and so on, so `restic -r
// s3:...` reads a repository lethe stores and the other way round.
//
// Objects are removed for good: on a bucket with versioning, Remove deletes
// every version and delete marker of the key; what a retention setting
// (Object Lock) keeps is reported as not deleted.
package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"lethe/backends"
)

// Backend is a repository in an S3 bucket.
type Backend struct {
	loc    Location
	opts   Options
	client *s3.Client
	http   *httpClient
	sem    chan struct{}

	// versioning is the bucket's versioning state as last seen
	// (versioningUnknown until asked).
	versioning atomic.Int32
	// noConditional is set once the server rejected If-None-Match; saves
	// then check for an existing object with HEAD first.
	noConditional atomic.Bool
}

var _ backends.Backend = (*Backend)(nil)

const (
	versioningUnknown int32 = iota
	versioningOff
	versioningOn // Enabled or Suspended: old versions may exist
)

// errNoCredentials is the error of a credential chain that found none.
var errNoCredentials = errors.New("s3: no S3 credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use an AWS profile or instance role)")

// Open connects to an existing bucket. It does not check for a
// repository in it.
func Open(ctx context.Context, loc Location, opts Options) (*Backend, error) {
	b, err := newBackend(ctx, loc, opts)
	if err != nil {
		return nil, err
	}
	if err := b.headBucket(ctx); err != nil {
		b.Close()
		return nil, err
	}
	b.refreshVersioning(ctx)
	return b, nil
}

// Create connects to the bucket, creating it when it does not exist, and
// refuses a location that already holds a repository config.
func Create(ctx context.Context, loc Location, opts Options) (*Backend, error) {
	b, err := newBackend(ctx, loc, opts)
	if err != nil {
		return nil, err
	}
	err = b.headBucket(ctx)
	if errors.Is(err, errNoSuchBucket) {
		err = b.createBucket(ctx)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	_, err = b.Stat(ctx, backends.Handle{Type: backends.ConfigFile})
	switch {
	case err == nil:
		b.Close()
		return nil, fmt.Errorf("creating repository at %s: config file already exists", loc)
	case !backends.IsNotExist(err):
		b.Close()
		return nil, err
	}
	b.refreshVersioning(ctx)
	return b, nil
}

var awsHost = regexp.MustCompile(`^s3(?:[.-]dualstack)?(?:[.-]([a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$`)

func newBackend(ctx context.Context, loc Location, opts Options) (*Backend, error) {
	opts = opts.withDefaults()
	if opts.Endpoint != "" {
		loc.Endpoint = opts.Endpoint
	}
	if loc.Endpoint == "" || loc.Bucket == "" {
		return nil, errors.New("s3: endpoint and bucket are required")
	}
	httpClient, err := newHTTPClient(opts)
	if err != nil {
		return nil, err
	}

	var loadOpts []func(*config.LoadOptions) error
	loadOpts = append(loadOpts,
		config.WithHTTPClient(httpClient.BuildableClient),
		config.WithRetryer(func() aws.Retryer { return newRetryer(opts) }),
		// Content-MD5, which every S3 implementation verifies, is set by
		// Save; the SDK's newer streaming checksums are not understood
		// by all S3-compatible servers.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		// Errors are returned to the caller; the SDK's own warnings
		// (about connections cut mid-answer) would only be noise.
		config.WithLogger(logging.Nop{}),
	)
	if opts.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.AccessKeyID != "" || opts.SecretAccessKey != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3: loading the AWS configuration: %w", err)
	}
	// Without this, a machine with no credentials gets the last error of
	// the credential chain, the EC2 metadata service's, on the first
	// request. The credentials are cached for the requests.
	if cfg.Credentials == nil {
		return nil, errNoCredentials
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errNoCredentials
	}

	host := strings.ToLower(loc.Endpoint)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	m := awsHost.FindStringSubmatch(host)
	onAWS := m != nil && !loc.UseHTTP
	if opts.Region == "" && onAWS && m[1] != "" {
		// The URL names the region; it beats AWS_REGION.
		cfg.Region = m[1]
	}
	if cfg.Region == "" && onAWS {
		cfg.Region = detectRegion(ctx, cfg.HTTPClient, loc.Bucket)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	pathStyle := opts.BucketLookup == LookupPath ||
		opts.BucketLookup == LookupAuto && (!onAWS || strings.Contains(loc.Bucket, "."))
	scheme := "https"
	if loc.UseHTTP {
		scheme = "http"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		switch {
		case !onAWS:
			o.BaseEndpoint = aws.String(scheme + "://" + loc.Endpoint)
		case strings.Contains(host, "dualstack"):
			// Other AWS endpoints the SDK derives from the region.
			o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
		}
	})
	opts.Region = cfg.Region
	return &Backend{
		loc:    loc,
		opts:   opts,
		client: client,
		http:   httpClient,
		sem:    make(chan struct{}, opts.Connections),
	}, nil
}

// httpClient is the SDK's buildable client (so AWS_CA_BUNDLE from the
// environment still applies) with our transport settings.
type httpClient struct {
	*awshttp.BuildableClient
	transport atomic.Pointer[http.Transport]
}

func newHTTPClient(opts Options) (*httpClient, error) {
	var pool *x509.CertPool
	if opts.CACertFile != "" {
		pem, err := os.ReadFile(opts.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("s3: reading CA certificates: %w", err)
		}
		pool, err = x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("s3: no PEM certificate in %s", opts.CACertFile)
		}
	}
	c := &httpClient{}
	c.BuildableClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 2 * opts.Connections
		tr.MaxIdleConnsPerHost = 2 * opts.Connections
		// A server that accepted a request but never answers is a
		// transient fault too; the attempt is then retried.
		tr.ResponseHeaderTimeout = 5 * time.Minute
		if pool != nil {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			tr.TLSClientConfig.RootCAs = pool
		}
		c.transport.Store(tr)
	})
	return c, nil
}

func (c *httpClient) CloseIdleConnections() {
	if tr := c.transport.Load(); tr != nil {
		tr.CloseIdleConnections()
	}
}

// newRetryer retries throttling, 5xx and connection errors with jittered
// exponential backoff; MaxAttempts and MaxBackoff bound the time spent.
// The SDK's retry quota is off: one slow phase of the server must not make
// later operations fail without retrying.
func newRetryer(opts Options) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = opts.MaxAttempts
		o.MaxBackoff = opts.MaxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(lostConnection))
		o.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
			return backoff(attempt, opts.MaxBackoff), nil
		})
	})
}

// lostConnection reports a connection that closed before the whole
// answer arrived. The SDK leaves such errors to the caller; every
// operation this backend sends is safe to repeat (objects are immutable
// and written with If-None-Match).
func lostConnection(err error) aws.Ternary {
	var de *smithy.DeserializationError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return aws.TrueTernary
	case errors.As(err, &de) && strings.Contains(de.Error(), "EOF"):
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}

// backoff is the wait before retry number attempt (1, 2, ...): exponential
// from 200ms, capped, with half of it random.
func backoff(attempt int, maxBackoff time.Duration) time.Duration {
	d := maxBackoff
	if attempt < 20 {
		d = min(maxBackoff, 200*time.Millisecond<<max(attempt-1, 0))
	}
	return d/2 + rand.N(d/2+1)
}

// detectRegion asks AWS in which region the bucket is; it answers in a
// header even to an unauthenticated HEAD.
func detectRegion(ctx context.Context, c aws.HTTPClient, bucket string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "https://s3.amazonaws.com/"+bucket, nil)
	if err != nil {
		return ""
	}
	resp, err := c.Do(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	return resp.Header.Get("X-Amz-Bucket-Region")
}

// Location returns the URL in restic's syntax (no secrets).
func (b *Backend) Location() string { return b.loc.String() }

// Connections is the number of concurrent operations (s3.connections).
func (b *Backend) Connections() int { return b.opts.Connections }

// Region is the region requests are signed for.
func (b *Backend) Region() string { return b.opts.Region }

// Close releases idle connections.
func (b *Backend) Close() error {
	b.http.CloseIdleConnections()
	return nil
}

func (b *Backend) acquire(ctx context.Context) error {
	select {
	case b.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Backend) release() { <-b.sem }

// key is the object key of h in restic's layout.
func (b *Backend) key(h backends.Handle) string {
	return path.Join(b.loc.Prefix, h.Path())
}

// dir is the key prefix of all objects of type t, with a trailing slash.
func (b *Backend) dir(t backends.FileType) string {
	return path.Join(b.loc.Prefix, string(t)) + "/"
}

// Save uploads data under h with its MD5, which the server verifies. It
// refuses to replace an existing object except for lock files.
func (b *Backend) Save(ctx context.Context, h backends.Handle, data []byte) error {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := b.acquire(ctx); err != nil {
		return fmt.Errorf("saving %s: %w", h, err)
	}
	defer b.release()

	exclusive := h.Type != backends.LockFile
	key := b.key(h)
	if exclusive && b.noConditional.Load() {
		_, err := b.head(ctx, key)
		if err == nil {
			return fmt.Errorf("saving %s: %w", h, fs.ErrExist)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return b.wrap("saving", h.String(), err)
		}
		exclusive = false
	}

	etag, err := b.upload(ctx, key, data, exclusive)
	if exclusive && isCode(err, "NotImplemented") {
		// The server does not do conditional writes: check first.
		b.noConditional.Store(true)
		if _, herr := b.head(ctx, key); herr == nil {
			return fmt.Errorf("saving %s: %w", h, fs.ErrExist)
		} else if !errors.Is(herr, fs.ErrNotExist) {
			return b.wrap("saving", h.String(), herr)
		}
		exclusive = false
		etag, err = b.upload(ctx, key, data, false)
	}
	if exclusive && (isCode(err, "PreconditionFailed") || httpStatus(err) == http.StatusPreconditionFailed) {
		// Either another writer was first, or an earlier attempt of
		// this very upload succeeded and only its answer was lost.
		// Identical content under the same name is no conflict.
		if b.sameContent(ctx, key, etag, data) {
			return nil
		}
		return fmt.Errorf("saving %s: %w", h, fs.ErrExist)
	}
	if err != nil {
		return b.wrap("saving", h.String(), err)
	}
	return nil
}

// sameContent reports whether the object at key holds exactly data: by
// its ETag, or, where the ETag is no MD5 (some encryption modes), by
// reading it.
func (b *Backend) sameContent(ctx context.Context, key, etag string, data []byte) bool {
	cur, err := b.head(ctx, key)
	if err != nil || cur.size != int64(len(data)) {
		return false
	}
	if cur.etag == etag {
		return true
	}
	got, _, err := b.getOnce(ctx, &s3.GetObjectInput{Bucket: aws.String(b.loc.Bucket), Key: aws.String(key)}, 0)
	return err == nil && bytes.Equal(got, data)
}

func (b *Backend) upload(ctx context.Context, key string, data []byte, exclusive bool) (string, error) {
	if int64(len(data)) >= b.opts.MultipartThreshold {
		return b.saveMultipart(ctx, key, data, exclusive)
	}
	return b.put(ctx, key, data, exclusive)
}

func md5sum(data []byte) []byte {
	s := md5.Sum(data)
	return s[:]
}

// payloadOpts skip hashing the payload into the signature over HTTPS:
// TLS protects it in transit and Content-MD5 lets the server verify it,
// so a second pass over every byte buys nothing.
func (b *Backend) payloadOpts() []func(*s3.Options) {
	if b.loc.UseHTTP {
		return nil
	}
	return []func(*s3.Options){s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)}
}

// put uploads data in one request and returns the ETag S3 gives it.
func (b *Backend) put(ctx context.Context, key string, data []byte, exclusive bool) (string, error) {
	sum := md5sum(data)
	in := &s3.PutObjectInput{
		Bucket:        aws.String(b.loc.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum)),
		ContentType:   aws.String("application/octet-stream"),
	}
	if b.opts.StorageClass != "" {
		in.StorageClass = types.StorageClass(b.opts.StorageClass)
	}
	if exclusive {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := b.client.PutObject(ctx, in, b.payloadOpts()...)
	return `"` + hex.EncodeToString(sum) + `"`, err
}

// saveMultipart uploads data in parts, each with its MD5, and returns the
// multipart ETag S3 computes (MD5 of the part MD5s, dash, part count).
func (b *Backend) saveMultipart(ctx context.Context, key string, data []byte, exclusive bool) (string, error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(b.loc.Bucket),
		Key:         aws.String(key),
		ContentType: aws.String("application/octet-stream"),
	}
	if b.opts.StorageClass != "" {
		in.StorageClass = types.StorageClass(b.opts.StorageClass)
	}
	up, err := b.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", err
	}
	completed := false
	defer func() {
		if !completed {
			// Leave no orphaned parts behind (they are billed and
			// invisible); also when ctx was cancelled.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			_, _ = b.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(b.loc.Bucket), Key: aws.String(key), UploadId: up.UploadId,
			})
			cancel()
		}
	}()

	var parts []types.CompletedPart
	var sums []byte
	for off, n := int64(0), int32(1); off < int64(len(data)); n++ {
		end := min(off+b.opts.PartSize, int64(len(data)))
		part := data[off:end]
		sum := md5sum(part)
		sums = append(sums, sum...)
		res, err := b.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        aws.String(b.loc.Bucket),
			Key:           aws.String(key),
			UploadId:      up.UploadId,
			PartNumber:    aws.Int32(n),
			Body:          bytes.NewReader(part),
			ContentLength: aws.Int64(int64(len(part))),
			ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum)),
		}, b.payloadOpts()...)
		if err != nil {
			return "", fmt.Errorf("uploading part %d: %w", n, err)
		}
		parts = append(parts, types.CompletedPart{ETag: res.ETag, PartNumber: aws.Int32(n)})
		off = end
	}
	cin := &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(b.loc.Bucket),
		Key:             aws.String(key),
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if exclusive {
		cin.IfNoneMatch = aws.String("*")
	}
	etag := fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(md5sum(sums)), len(parts))
	_, err = b.client.CompleteMultipartUpload(ctx, cin)
	if err == nil || isCode(err, "PreconditionFailed") || httpStatus(err) == http.StatusPreconditionFailed {
		// Done or refused for good; nothing left to abort on success.
		completed = err == nil
	}
	if isCode(err, "NoSuchUpload") {
		// A retried complete whose first attempt succeeded.
		completed = true
		if b.sameContent(ctx, key, etag, data) {
			return etag, nil
		}
	}
	return etag, err
}

type objectInfo struct {
	size int64
	etag string
}

func (b *Backend) head(ctx context.Context, key string) (objectInfo, error) {
	res, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(b.loc.Bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		if isNotFound(err) {
			return objectInfo{}, fs.ErrNotExist
		}
		return objectInfo{}, err
	}
	return objectInfo{size: aws.ToInt64(res.ContentLength), etag: aws.ToString(res.ETag)}, nil
}

// Load reads length bytes at offset (length 0: to the end) with a ranged
// GET. The bytes are read completely before fn sees them, so a connection
// lost mid-transfer is retried here and fn runs once, on verified-length
// data.
func (b *Backend) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := h.Valid(); err != nil {
		return err
	}
	if length < 0 || offset < 0 {
		return fmt.Errorf("loading %s: invalid range %d+%d", h, offset, length)
	}
	if err := b.acquire(ctx); err != nil {
		return fmt.Errorf("loading %s: %w", h, err)
	}
	buf, err := b.get(ctx, h, length, offset)
	b.release()
	if err != nil {
		return err
	}
	return fn(bytes.NewReader(buf))
}

func (b *Backend) get(ctx context.Context, h backends.Handle, length int, offset int64) ([]byte, error) {
	key := b.key(h)
	in := &s3.GetObjectInput{Bucket: aws.String(b.loc.Bucket), Key: aws.String(key)}
	switch {
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+int64(length)-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	for attempt := 1; ; attempt++ {
		buf, etag, err := b.getOnce(ctx, in, length)
		if err == nil {
			return buf, nil
		}
		if httpStatus(err) == http.StatusRequestedRangeNotSatisfiable || isCode(err, "InvalidRange") {
			fi, serr := b.head(ctx, key)
			if serr == nil && length == 0 && offset == fi.size {
				return nil, nil // empty tail, as a file read gives
			}
			return nil, fmt.Errorf("loading %s: range %d+%d beyond its size: %w", h, offset, length, io.ErrUnexpectedEOF)
		}
		if errors.Is(err, errShort) {
			return nil, fmt.Errorf("loading %s: range %d+%d beyond its size: %w", h, offset, length, io.ErrUnexpectedEOF)
		}
		if !errors.Is(err, errBodyRead) || attempt >= b.opts.MaxAttempts || ctx.Err() != nil {
			return nil, b.wrap("loading", h.String(), err)
		}
		// The connection broke while the body was read; the SDK retries
		// only up to the response headers. The object must not change
		// between attempts.
		if etag != "" {
			in.IfMatch = aws.String(etag)
		}
		t := time.NewTimer(backoff(attempt, b.opts.MaxBackoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("loading %s: %w", h, ctx.Err())
		case <-t.C:
		}
	}
}

var (
	errBodyRead = errors.New("reading response body")
	errShort    = errors.New("short response")
)

func (b *Backend) getOnce(ctx context.Context, in *s3.GetObjectInput, length int) ([]byte, string, error) {
	res, err := b.client.GetObject(ctx, in)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	etag := aws.ToString(res.ETag)
	n := aws.ToInt64(res.ContentLength)
	if length > 0 && n != int64(length) {
		// S3 answers a range past the end with what there is.
		return nil, etag, errShort
	}
	var buf []byte
	if res.ContentLength != nil && n >= 0 {
		buf = make([]byte, n)
		_, err = io.ReadFull(res.Body, buf)
	} else {
		buf, err = io.ReadAll(res.Body)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, etag, ctx.Err()
		}
		return nil, etag, fmt.Errorf("%w: %w", errBodyRead, err)
	}
	return buf, etag, nil
}

// Stat returns the object's size.
func (b *Backend) Stat(ctx context.Context, h backends.Handle) (backends.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backends.FileInfo{}, err
	}
	if err := b.acquire(ctx); err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat %s: %w", h, err)
	}
	defer b.release()
	fi, err := b.head(ctx, b.key(h))
	if err != nil {
		return backends.FileInfo{}, b.wrap("stat", h.String(), err)
	}
	return backends.FileInfo{Name: h.Name, Size: fi.size}, nil
}

// List calls fn for every object of type t. Pack files are found below
// any subdirectory of data/; LetheFile names are paths below lethe/; other
// types list only direct children, as restic does.
func (b *Backend) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	if t == backends.ConfigFile {
		fi, err := b.Stat(ctx, backends.Handle{Type: backends.ConfigFile})
		if backends.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		fi.Name = "config"
		return fn(fi)
	}
	dir := b.dir(t)
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(b.loc.Bucket),
		Prefix:  aws.String(dir),
		MaxKeys: aws.Int32(int32(b.opts.ListMaxKeys)),
	}
	recursive := t == backends.PackFile || t == backends.LetheFile
	if !recursive {
		in.Delimiter = aws.String("/")
	}
	p := s3.NewListObjectsV2Paginator(b.client, in)
	for p.HasMorePages() {
		if err := b.acquire(ctx); err != nil {
			return fmt.Errorf("listing %s: %w", t, err)
		}
		page, err := p.NextPage(ctx)
		b.release()
		if err != nil {
			return b.wrap("listing", string(t), err)
		}
		for _, obj := range page.Contents {
			rel := strings.TrimPrefix(aws.ToString(obj.Key), dir)
			if rel == "" || strings.HasSuffix(rel, "/") {
				continue // directory placeholder objects
			}
			name := rel
			if t == backends.PackFile {
				name = path.Base(rel)
			}
			if err := fn(backends.FileInfo{Name: name, Size: aws.ToInt64(obj.Size)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Remove deletes the object for good. On a bucket that has or had
// versioning it deletes every version and delete marker of the key; an
// error lists what could not be deleted (for instance versions under
// Object Lock retention). Removing a missing object is an error wrapping
// fs.ErrNotExist on versioned buckets; on others S3 cannot tell, and it
// succeeds.
func (b *Backend) Remove(ctx context.Context, h backends.Handle) error {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := b.acquire(ctx); err != nil {
		return fmt.Errorf("removing %s: %w", h, err)
	}
	defer b.release()
	key := b.key(h)
	if b.versioning.Load() != versioningOff {
		err := b.removeVersions(ctx, h, key)
		if !errors.Is(err, errVersionsUnavailable) {
			return err
		}
	}
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.loc.Bucket), Key: aws.String(key)})
	if err != nil {
		return b.wrap("removing", h.String(), err)
	}
	return nil
}

var errVersionsUnavailable = errors.New("listing versions not possible")

type objectVersion struct {
	id     string
	marker bool
}

func (b *Backend) versions(ctx context.Context, key string) ([]objectVersion, error) {
	var vs []objectVersion
	p := s3.NewListObjectVersionsPaginator(b.client, &s3.ListObjectVersionsInput{
		Bucket: aws.String(b.loc.Bucket),
		Prefix: aws.String(key),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Key) == key {
				vs = append(vs, objectVersion{id: aws.ToString(v.VersionId)})
			}
		}
		for _, m := range page.DeleteMarkers {
			if aws.ToString(m.Key) == key {
				vs = append(vs, objectVersion{id: aws.ToString(m.VersionId), marker: true})
			}
		}
	}
	return vs, nil
}

func (b *Backend) removeVersions(ctx context.Context, h backends.Handle, key string) error {
	vs, err := b.versions(ctx, key)
	if err != nil {
		if b.versioning.Load() == versioningUnknown && (isCode(err, "NotImplemented") || isAccessDenied(err)) {
			return errVersionsUnavailable
		}
		return b.wrap("removing", h.String(), fmt.Errorf("listing versions: %w", err))
	}
	if len(vs) == 0 {
		return fmt.Errorf("removing %s: %w", h, fs.ErrNotExist)
	}
	var errs []error
	for _, v := range vs {
		in := &s3.DeleteObjectInput{Bucket: aws.String(b.loc.Bucket), Key: aws.String(key)}
		if v.id != "" {
			in.VersionId = aws.String(v.id)
		}
		_, err := b.client.DeleteObject(ctx, in)
		if err == nil || isNotFound(err) {
			continue
		}
		what := "version " + v.id
		if v.marker {
			what = "delete marker " + v.id
		}
		if retained(err) {
			err = fmt.Errorf("%s not deleted: it is under Object Lock retention or legal hold, or deletion is denied: %w", what, err)
		} else {
			err = fmt.Errorf("%s not deleted: %w", what, err)
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("removing %s from bucket %q: %d of %d versions not deleted: %w",
			h, b.loc.Bucket, len(errs), len(vs), errors.Join(errs...))
	}
	return nil
}

// Versions returns the IDs of all versions and delete markers of h's key
// (for checks and tests that deletion left nothing behind).
func (b *Backend) Versions(ctx context.Context, h backends.Handle) ([]string, error) {
	vs, err := b.versions(ctx, b.key(h))
	if err != nil {
		return nil, b.wrap("listing versions of", h.String(), err)
	}
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.id
	}
	return ids, nil
}

// Capabilities says what the bucket does to deletions.
type Capabilities struct {
	// Versioning is the bucket's versioning status: "", "Enabled" or
	// "Suspended".
	Versioning string
	// Versioned is true when old versions may exist (Enabled or
	// Suspended); Remove then deletes every version of a key.
	Versioned bool
	// ObjectLock is true when the bucket has Object Lock enabled:
	// objects under retention cannot be deleted before their date.
	ObjectLock bool
	// DefaultRetention describes the bucket's default retention
	// ("GOVERNANCE 30 days"), empty if none.
	DefaultRetention string
}

// Capabilities asks the bucket for its versioning and Object Lock
// configuration.
func (b *Backend) Capabilities(ctx context.Context) (Capabilities, error) {
	var c Capabilities
	v, err := b.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b.loc.Bucket)})
	if err != nil {
		return c, b.wrap("reading versioning of", "bucket", err)
	}
	c.Versioning = string(v.Status)
	c.Versioned = v.Status == types.BucketVersioningStatusEnabled || v.Status == types.BucketVersioningStatusSuspended
	if c.Versioned {
		b.versioning.Store(versioningOn)
	} else {
		b.versioning.Store(versioningOff)
	}
	ol, err := b.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(b.loc.Bucket)})
	switch {
	case err == nil:
		if cfg := ol.ObjectLockConfiguration; cfg != nil {
			c.ObjectLock = cfg.ObjectLockEnabled == types.ObjectLockEnabledEnabled
			if r := cfg.Rule; r != nil && r.DefaultRetention != nil {
				d := r.DefaultRetention
				switch {
				case aws.ToInt32(d.Days) > 0:
					c.DefaultRetention = fmt.Sprintf("%s %d days", d.Mode, aws.ToInt32(d.Days))
				case aws.ToInt32(d.Years) > 0:
					c.DefaultRetention = fmt.Sprintf("%s %d years", d.Mode, aws.ToInt32(d.Years))
				}
			}
		}
	case isCode(err, "ObjectLockConfigurationNotFoundError"), isCode(err, "NoSuchObjectLockConfiguration"),
		isCode(err, "NotImplemented"), httpStatus(err) == http.StatusNotFound:
		// No Object Lock.
	default:
		return c, b.wrap("reading Object Lock configuration of", "bucket", err)
	}
	return c, nil
}

// refreshVersioning learns the versioning state; when the bucket does not
// tell, Remove lists versions to be safe.
func (b *Backend) refreshVersioning(ctx context.Context) {
	v, err := b.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b.loc.Bucket)})
	switch {
	case err != nil:
		b.versioning.Store(versioningUnknown)
	case v.Status == types.BucketVersioningStatusEnabled || v.Status == types.BucketVersioningStatusSuspended:
		b.versioning.Store(versioningOn)
	default:
		b.versioning.Store(versioningOff)
	}
}

func (b *Backend) headBucket(ctx context.Context) error {
	_, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.loc.Bucket)})
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		err = &types.NoSuchBucket{}
	case httpStatus(err) != 0:
		// HEAD answers carry no error code; a listing says what is
		// wrong (wrong region, bad signature, ...).
		_, lerr := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: aws.String(b.loc.Bucket), MaxKeys: aws.Int32(1),
		})
		var ae smithy.APIError
		if errors.As(lerr, &ae) {
			err = lerr
		}
	}
	return b.wrap("opening", "bucket", err)
}

func (b *Backend) createBucket(ctx context.Context) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(b.loc.Bucket)}
	if b.opts.Region != "" && b.opts.Region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(b.opts.Region),
		}
	}
	_, err := b.client.CreateBucket(ctx, in)
	if err != nil && !isCode(err, "BucketAlreadyOwnedByYou") {
		return b.wrap("creating", "bucket", err)
	}
	return nil
}
