package s3test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestInstallScriptPinsSameVersion(t *testing.T) {
	script, err := os.ReadFile("install.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "\nMINIO_VERSION="+MinioVersion+"\n") {
		t.Errorf("install.sh does not pin MINIO_VERSION=%s", MinioVersion)
	}
	if !strings.Contains(string(script), `lethe/tools/minio-${MINIO_VERSION}`) {
		t.Error("install.sh caches the binary somewhere BinaryPath does not look")
	}
}

// outcomes sends n GET requests through a fresh proxy and describes what
// each one got.
func outcomes(t *testing.T, target string, cfg FaultConfig, n int) ([]string, *FaultProxy) {
	p := NewFaultProxy(t, target, cfg)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var got []string
	for i := 0; i < n; i++ {
		resp, err := c.Get(p.Endpoint + "/bucket/key")
		if err != nil {
			got = append(got, "error")
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			got = append(got, fmt.Sprintf("%d cut", resp.StatusCode))
		case resp.StatusCode != 200:
			got = append(got, fmt.Sprintf("%d %v", resp.StatusCode, strings.Contains(string(body), "SlowDown")))
		default:
			got = append(got, string(body))
		}
	}
	return got, p
}

func TestFaultProxy(t *testing.T) {
	var served atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Host == "" {
			t.Error("no Host header forwarded")
		}
		fmt.Fprint(w, "the object's content")
	}))
	defer upstream.Close()

	cfg := FaultConfig{Seed: 9, Rate: 0.5}
	const n = 60
	first, p := outcomes(t, upstream.URL, cfg, n)
	second, _ := outcomes(t, upstream.URL, cfg, n)
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Errorf("same seed, different faults:\n%q\n%q", first, second)
	}
	other, _ := outcomes(t, upstream.URL, FaultConfig{Seed: 10, Rate: 0.5}, n)
	if fmt.Sprint(first) == fmt.Sprint(other) {
		t.Error("different seeds, same faults")
	}
	faults := p.Faults()
	if faults < n/4 || faults > n*3/4 {
		t.Errorf("%d of %d requests faulted at rate 0.5", faults, n)
	}
	ok := 0
	for _, o := range first {
		if o == "the object's content" {
			ok++
		}
	}
	// Delayed requests are answered in full; the rest of the faults not.
	if want := n - int(faults) + int(p.Count(FaultDelay)); ok != want {
		t.Errorf("%d complete answers, want %d (outcomes %q)", ok, want, first)
	}
	for f := FaultDrop; f < numFaults; f++ {
		if p.Count(f) == 0 {
			t.Errorf("fault %v never chosen in %d requests", f, n)
		}
	}
	// Dropped, 500 and 503 requests never reach the server; delayed and
	// cut ones do.
	reached := int64(n) - p.Count(FaultDrop) - p.Count(Fault500) - p.Count(Fault503)
	if got := served.Load(); got < reached {
		t.Errorf("server saw %d requests of the first run, want at least %d", got, reached)
	}

	p.SetEnabled(false)
	before := p.Faults()
	resp, err := http.Get(p.Endpoint + "/x")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("disabled proxy: %v", err)
	}
	resp.Body.Close()
	if p.Faults() != before {
		t.Error("disabled proxy injected a fault")
	}
}

func TestServer(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	plain := s.NewBucket(t, false)
	versioned := s.NewBucket(t, true)
	if plain == versioned {
		t.Fatal("NewBucket returned one name twice")
	}
	for _, b := range []string{plain, versioned} {
		for i := 0; i < 2; i++ {
			_, err := s.Client().PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader(fmt.Sprint(i)),
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(s.AllVersions(t, plain, "")); n != 1 {
		t.Errorf("plain bucket: %d versions of an overwritten key, want 1", n)
	}
	if n := len(s.AllVersions(t, versioned, "")); n != 2 {
		t.Errorf("versioned bucket: %d versions of an overwritten key, want 2", n)
	}
	if keys := s.Keys(t, versioned, ""); len(keys) != 1 || keys[0] != "k" {
		t.Errorf("Keys: %q", keys)
	}
	if !strings.HasPrefix(s.URL("b", "p"), "s3:http://127.0.0.1:") {
		t.Errorf("URL: %s", s.URL("b", "p"))
	}
}
