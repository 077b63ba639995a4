// Package s3test runs a real S3 server (MinIO, single drive) on 127.0.0.1
// for tests, and a fault-injecting proxy to put in front of it.
//
// The server binary is built once by install.sh (next to this file) and
// cached; a missing binary fails the test with the command to run.
package s3test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MinioVersion is the pinned MinIO module version; install.sh builds the
// same one (a test checks that they agree).
const MinioVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Region is the region the test server answers for.
const Region = "us-east-1"

// BinaryPath returns where install.sh caches the server binary:
// $LETHE_MINIO_BIN if set, else ${XDG_CACHE_HOME:-$HOME/.cache}/lethe/tools/minio-<version>/minio.
func BinaryPath() string {
	if p := os.Getenv("LETHE_MINIO_BIN"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "lethe", "tools", "minio-"+MinioVersion, "minio")
}

// Server is a running S3 server.
type Server struct {
	// Endpoint is the base URL, http://127.0.0.1:PORT.
	Endpoint string
	// Host is 127.0.0.1:PORT.
	Host      string
	AccessKey string
	SecretKey string
	Region    string
	// CACertFile is the PEM file to trust for an HTTPS server (StartTLS).
	CACertFile string

	client  *s3.Client
	buckets atomic.Int64
}

// Start runs a MinIO server on a free port of 127.0.0.1 with its data in a
// temporary directory, waits until it answers, and stops it when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false)
}

// StartTLS is Start with HTTPS, using a fresh self-signed certificate for
// 127.0.0.1 whose PEM file is CACertFile.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	return start(t, true)
}

func start(t testing.TB, useTLS bool) *Server {
	t.Helper()
	bin := BinaryPath()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("S3 test server binary missing at %s: run backends/s3test/install.sh first (%v)", bin, err)
	}
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	consolePort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Host:      fmt.Sprintf("127.0.0.1:%d", port),
		AccessKey: "lethe-test-access",
		SecretKey: "lethe-test-secret-key",
		Region:    Region,
	}
	s.Endpoint = "http://" + s.Host
	certsDir := filepath.Join(dir, "certs")
	healthClient := &http.Client{Timeout: 2 * time.Second}
	if useTLS {
		s.Endpoint = "https://" + s.Host
		s.CACertFile = filepath.Join(dir, "ca.pem")
		pool, err := writeCert(certsDir, s.CACertFile)
		if err != nil {
			t.Fatal(err)
		}
		healthClient.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "server", "--quiet", "--anonymous",
		"--address", s.Host, "--console-address", fmt.Sprintf("127.0.0.1:%d", consolePort),
		"--certs-dir", certsDir, filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_REGION="+Region,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on",
		"HOME="+dir,
	)
	var out syncBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting S3 test server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	if err := waitReady(healthClient, s.Endpoint, done); err != nil {
		t.Fatalf("S3 test server did not start: %v\n%s", err, out.String())
	}
	s.client = s3.New(s3.Options{
		HTTPClient:   &http.Client{Transport: healthClient.Transport},
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
	return s
}

// writeCert makes a self-signed certificate for 127.0.0.1 and writes it
// where MinIO looks (public.crt, private.key in dir) and to caFile.
func writeCert(dir, caFile string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "lethe test S3 server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for name, data := range map[string][]byte{
		filepath.Join(dir, "public.crt"):  certPEM,
		filepath.Join(dir, "private.key"): keyPEM,
		caFile:                            certPEM,
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(c *http.Client, endpoint string, exited <-chan struct{}) error {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("server exited")
		default:
		}
		resp, err := c.Get(endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("no answer within 90s")
}

// Client is an S3 client with the server's root credentials, for
// inspecting what a test left behind.
func (s *Server) Client() *s3.Client { return s.client }

// Env returns the environment variables restic needs for this server.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_DEFAULT_REGION=" + s.Region,
		"AWS_REGION=" + s.Region,
	}
}

// URL is a repository URL in restic's syntax for bucket and prefix.
func (s *Server) URL(bucket, prefix string) string {
	u := "s3:" + s.Endpoint + "/" + bucket
	if prefix != "" {
		u += "/" + prefix
	}
	return u
}

// NewBucket creates an empty bucket with a fresh name, with versioning
// enabled if versioned.
func (s *Server) NewBucket(t testing.TB, versioned bool) string {
	t.Helper()
	return s.newBucket(t, versioned, false)
}

// NewLockedBucket creates a bucket with Object Lock enabled (which implies
// versioning).
func (s *Server) NewLockedBucket(t testing.TB) string {
	t.Helper()
	return s.newBucket(t, true, true)
}

func (s *Server) newBucket(t testing.TB, versioned, locked bool) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("lethe-test-%d", s.buckets.Add(1))
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if locked {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := s.client.CreateBucket(ctx, in); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	if versioned && !locked {
		_, err := s.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  aws.String(name),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		})
		if err != nil {
			t.Fatalf("enabling versioning on %s: %v", name, err)
		}
	}
	return name
}

// ObjectVersion is one version or delete marker of a key.
type ObjectVersion struct {
	Key          string
	VersionID    string
	DeleteMarker bool
}

// AllVersions lists every version and delete marker in bucket whose key
// starts with prefix.
func (s *Server) AllVersions(t testing.TB, bucket, prefix string) []ObjectVersion {
	t.Helper()
	var vs []ObjectVersion
	p := s3.NewListObjectVersionsPaginator(s.client, &s3.ListObjectVersionsInput{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("listing versions in %s: %v", bucket, err)
		}
		for _, v := range page.Versions {
			vs = append(vs, ObjectVersion{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId)})
		}
		for _, m := range page.DeleteMarkers {
			vs = append(vs, ObjectVersion{Key: aws.ToString(m.Key), VersionID: aws.ToString(m.VersionId), DeleteMarker: true})
		}
	}
	return vs
}

// Keys lists the current object keys in bucket below prefix.
func (s *Server) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("listing %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
