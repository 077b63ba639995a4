package s3

import (
	"path"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Location
	}{
		{"s3:s3.amazonaws.com/bucket", Location{Endpoint: "s3.amazonaws.com", Bucket: "bucket"}},
		{"s3:s3.amazonaws.com/bucket/", Location{Endpoint: "s3.amazonaws.com", Bucket: "bucket"}},
		{"s3:s3.amazonaws.com/bucket/prefix", Location{Endpoint: "s3.amazonaws.com", Bucket: "bucket", Prefix: "prefix"}},
		{"s3:s3.amazonaws.com/bucket/prefix/dir/", Location{Endpoint: "s3.amazonaws.com", Bucket: "bucket", Prefix: "prefix/dir"}},
		{"s3://s3.eu-north-1.amazonaws.com/bucket/p", Location{Endpoint: "s3.eu-north-1.amazonaws.com", Bucket: "bucket", Prefix: "p"}},
		{"s3:https://minio.example.com:9000/bucket/a/b", Location{Endpoint: "minio.example.com:9000", Bucket: "bucket", Prefix: "a/b"}},
		{"s3:https://host/bucket", Location{Endpoint: "host", Bucket: "bucket"}},
		{"s3:http://127.0.0.1:9000/bucket/repo", Location{Endpoint: "127.0.0.1:9000", UseHTTP: true, Bucket: "bucket", Prefix: "repo"}},
		{"s3:http://[::1]:9000/bucket", Location{Endpoint: "[::1]:9000", UseHTTP: true, Bucket: "bucket"}},
		{"s3:http://localhost:9000/bucket/a/../b", Location{Endpoint: "localhost:9000", UseHTTP: true, Bucket: "bucket", Prefix: "b"}},
	} {
		got, err := ParseURL(c.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", c.in, got, c.want)
		}
		// String gives a URL that parses to the same location.
		again, err := ParseURL(got.String())
		if err != nil || again != got {
			t.Errorf("ParseURL(%q).String() = %q does not round-trip: %+v, %v", c.in, got.String(), again, err)
		}
	}
	for _, in := range []string{
		"", "s3:", "s3:host", "s3:host/", "s3:/bucket", "s3:http://host", "s3:http://host/",
		"s3:https://user:secret@host/bucket", "sftp:host/bucket", "/local/path", "s3:host/b",
		"s3:https://host/bucket?x=1", "s3:host/bu cket",
	} {
		if loc, err := ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", in, loc)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q): error shows the secret: %v", in, err)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"s3:s3.amazonaws.com/bucket/prefix", "s3://host/bucket", "s3:http://127.0.0.1:9000/b/p/q",
		"s3:https://h:1/bucket/", "s3:host/bucket/../..", "s3:http://[::1]/bkt", "s3:http://%zz/b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := ParseURL(s)
		if err != nil {
			return
		}
		if loc.Endpoint == "" || loc.Bucket == "" {
			t.Fatalf("ParseURL(%q) = %+v without error", s, loc)
		}
		if loc.Prefix != "" && (path.Clean(loc.Prefix) != loc.Prefix || strings.HasPrefix(loc.Prefix, "/") || loc.Prefix == ".." || strings.HasPrefix(loc.Prefix, "../")) {
			t.Fatalf("ParseURL(%q): prefix %q not clean", s, loc.Prefix)
		}
		again, err := ParseURL(loc.String())
		if err != nil || again != loc {
			t.Fatalf("ParseURL(%q) = %+v; String %q parses to %+v, %v", s, loc, loc.String(), again, err)
		}
	})
}

func TestOptionsSet(t *testing.T) {
	var o Options
	for _, kv := range [][2]string{
		{"s3.region", "eu-north-1"},
		{"bucket-lookup", "dns"},
		{"s3.path-style", "true"},
		{"s3.endpoint", "minio.local:9000"},
		{"s3.cacert", "ca.pem"},
		{"s3.profile", "backup"},
		{"s3.storage-class", "STANDARD_IA"},
		{"s3.connections", "12"},
		{"s3.multipart-threshold", "100MiB"},
		{"s3.part-size", "8M"},
		{"s3.retries", "4"},
		{"s3.max-backoff", "3s"},
		{"s3.list-max-keys", "50"},
	} {
		if err := ParseOption(&o, kv[0], kv[1]); err != nil {
			t.Fatalf("Set(%s=%s): %v", kv[0], kv[1], err)
		}
	}
	want := Options{
		Region: "eu-north-1", BucketLookup: LookupPath, Endpoint: "minio.local:9000", CACertFile: "ca.pem",
		Profile: "backup", StorageClass: "STANDARD_IA", Connections: 12, MultipartThreshold: 100 << 20,
		PartSize: 8 << 20, MaxAttempts: 5, MaxBackoff: 3 * time.Second, ListMaxKeys: 50,
	}
	if o != want {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
	for _, kv := range [][2]string{
		{"s3.bogus", "1"}, {"s3.connections", "0"}, {"s3.connections", "x"}, {"s3.bucket-lookup", "virtual"},
		{"s3.path-style", "maybe"}, {"s3.part-size", "1MiB"}, {"s3.multipart-threshold", "12 parsecs"},
		{"s3.max-backoff", "-1s"}, {"s3.list-max-keys", "5000"}, {"s3.retries", "-1"},
	} {
		if err := o.Set(kv[0], kv[1]); err == nil {
			t.Errorf("Set(%s=%s): no error", kv[0], kv[1])
		}
	}
	d := Options{}.withDefaults()
	if d.Connections != DefaultConnections || d.PartSize != DefaultPartSize || d.MaxAttempts != DefaultMaxAttempts || d.BucketLookup != LookupAuto || d.ListMaxKeys != 1000 {
		t.Errorf("defaults: %+v", d)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "16MiB", "5M", "1g", "12 KiB", "9223372036854775807", "1x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}

func TestBackoff(t *testing.T) {
	for attempt := 1; attempt < 40; attempt++ {
		d := backoff(attempt, 5*time.Second)
		if d < 0 || d > 5*time.Second {
			t.Fatalf("backoff(%d) = %v, outside [0, 5s]", attempt, d)
		}
		if attempt == 1 && d > 200*time.Millisecond {
			t.Fatalf("first backoff %v, want at most 200ms", d)
		}
	}
}

func TestAWSHost(t *testing.T) {
	for host, region := range map[string]string{
		"s3.amazonaws.com":                     "",
		"s3.eu-north-1.amazonaws.com":          "eu-north-1",
		"s3-eu-west-1.amazonaws.com":           "eu-west-1",
		"s3.dualstack.us-east-2.amazonaws.com": "us-east-2",
		"s3.cn-north-1.amazonaws.com.cn":       "cn-north-1",
	} {
		m := awsHost.FindStringSubmatch(host)
		if m == nil || m[1] != region {
			t.Errorf("%s: match %q, want region %q", host, m, region)
		}
	}
	for _, host := range []string{"minio.local", "s3.example.com", "evil-amazonaws.com", "s3.amazonaws.com.evil.net"} {
		if awsHost.MatchString(host) {
			t.Errorf("%s taken for AWS", host)
		}
	}
}
