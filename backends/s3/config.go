package s3

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Location is where a repository lives: an endpoint, a bucket and a key
// prefix inside it. It is what a repository URL names.
type Location struct {
	// Endpoint is host[:port] of the S3 service, e.g. "s3.amazonaws.com".
	Endpoint string
	// UseHTTP selects plain HTTP (only sensible on loopback).
	UseHTTP bool
	Bucket  string
	// Prefix is prepended to every key ("" or a cleaned path without
	// leading or trailing slash).
	Prefix string
}

// ParseURL parses a repository URL in restic's syntax:
//
//	s3:https://host[:port]/bucket[/prefix]
//	s3:http://host[:port]/bucket[/prefix]
//	s3:host[:port]/bucket[/prefix]     (HTTPS)
//	s3://host[:port]/bucket[/prefix]   (HTTPS)
func ParseURL(s string) (Location, error) {
	var loc Location
	switch {
	case strings.HasPrefix(s, "s3:http://"), strings.HasPrefix(s, "s3:https://"):
		u, err := url.Parse(s[3:])
		if err != nil {
			return loc, fmt.Errorf("parsing S3 URL: %w", err)
		}
		if u.User != nil {
			return loc, errors.New("parsing S3 URL: credentials in the URL are not supported, use the environment or the AWS configuration files")
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return loc, errors.New("parsing S3 URL: query and fragment are not supported")
		}
		p := strings.TrimPrefix(u.Path, "/")
		return newLocation(u.Host, strings.SplitN(p, "/", 2), u.Scheme == "http")
	case strings.HasPrefix(s, "s3://"):
		s = s[len("s3://"):]
	case strings.HasPrefix(s, "s3:"):
		s = s[len("s3:"):]
	default:
		return loc, errors.New(`parsing S3 URL: want "s3:host/bucket[/prefix]" or "s3:https://host/bucket[/prefix]"`)
	}
	p := strings.SplitN(s, "/", 3)
	return newLocation(p[0], p[1:], false)
}

func newLocation(endpoint string, p []string, useHTTP bool) (Location, error) {
	if endpoint == "" {
		return Location{}, errors.New("parsing S3 URL: no host")
	}
	if strings.ContainsAny(endpoint, "@/?#") {
		return Location{}, errors.New("parsing S3 URL: invalid host")
	}
	if len(p) < 1 || p[0] == "" {
		return Location{}, errors.New("parsing S3 URL: no bucket name")
	}
	if err := validBucketName(p[0]); err != nil {
		return Location{}, fmt.Errorf("parsing S3 URL: %w", err)
	}
	loc := Location{Endpoint: endpoint, UseHTTP: useHTTP, Bucket: p[0]}
	if len(p) > 1 && p[1] != "" {
		if strings.ContainsAny(p[1], "?#%\\") || strings.ContainsFunc(p[1], func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return Location{}, errors.New(`parsing S3 URL: the prefix may not contain '?', '#', '%', '\' or control characters`)
		}
		loc.Prefix = strings.Trim(path.Clean("/"+p[1]), "/")
	}
	return loc, nil
}

// validBucketName accepts what S3-compatible services accept in practice:
// 3 to 255 characters of letters, digits, '.', '-' and '_' (AWS is
// stricter; it reports its own error).
func validBucketName(name string) error {
	if len(name) < 3 || len(name) > 255 {
		return fmt.Errorf("bucket name must have 3 to 255 characters, not %d", len(name))
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return errors.New("bucket name may only contain letters, digits, '.', '-' and '_'")
		}
	}
	return nil
}

// String returns the URL in restic's syntax. It never contains secrets.
func (l Location) String() string {
	var b strings.Builder
	b.WriteString("s3:")
	if l.UseHTTP {
		b.WriteString("http://")
	}
	b.WriteString(l.Endpoint)
	b.WriteString("/")
	b.WriteString(l.Bucket)
	if l.Prefix != "" {
		b.WriteString("/")
		b.WriteString(l.Prefix)
	}
	return b.String()
}

// BucketLookup selects how the bucket is addressed.
type BucketLookup string

// Bucket addressing styles (restic's s3.bucket-lookup values).
const (
	// LookupAuto uses virtual-hosted style on AWS and path style elsewhere.
	LookupAuto BucketLookup = "auto"
	// LookupDNS is virtual-hosted style: https://bucket.host/key.
	LookupDNS BucketLookup = "dns"
	// LookupPath is path style: https://host/bucket/key.
	LookupPath BucketLookup = "path"
)

// Options tune the backend. The zero value is usable; Defaults says what
// each zero field means.
type Options struct {
	// Region signs requests. Empty: from the AWS configuration
	// (AWS_REGION, the profile), else from an AWS endpoint's host name
	// or the bucket's own answer, else "us-east-1".
	Region string
	// BucketLookup is auto (default), dns or path.
	BucketLookup BucketLookup
	// Endpoint overrides the URL's host[:port] when set.
	Endpoint string
	// CACertFile is a PEM file of CA certificates trusted in addition to
	// the system's, for self-hosted servers.
	CACertFile string
	// Profile selects a profile of the shared AWS configuration files.
	Profile string
	// AccessKeyID and SecretAccessKey are static credentials. Empty: the
	// standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
	// AWS_SESSION_TOKEN, shared files, profiles, web identity, instance
	// roles).
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// StorageClass for new objects (STANDARD, STANDARD_IA, ...).
	StorageClass string
	// Connections bounds concurrent operations (default 5, as restic).
	Connections int
	// MultipartThreshold: objects of at least this many bytes are
	// uploaded in parts (default 64 MiB).
	MultipartThreshold int64
	// PartSize of multipart uploads (default 16 MiB, at least 5 MiB).
	PartSize int64
	// MaxAttempts per request, the first one included (default 10).
	MaxAttempts int
	// MaxBackoff caps the jittered exponential wait between attempts
	// (default 20s). Together with MaxAttempts it bounds the time one
	// request may take to fail.
	MaxBackoff time.Duration
	// ListMaxKeys is the page size of listings (default and maximum
	// 1000); tests use small pages.
	ListMaxKeys int
}

// Defaults of Options.
const (
	DefaultConnections        = 5
	DefaultMultipartThreshold = 64 << 20
	DefaultPartSize           = 16 << 20
	MinPartSize               = 5 << 20
	DefaultMaxAttempts        = 10
	DefaultMaxBackoff         = 20 * time.Second
)

func (o Options) withDefaults() Options {
	if o.BucketLookup == "" {
		o.BucketLookup = LookupAuto
	}
	if o.Connections <= 0 {
		o.Connections = DefaultConnections
	}
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize {
		o.PartSize = MinPartSize
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.ListMaxKeys <= 0 || o.ListMaxKeys > 1000 {
		o.ListMaxKeys = 1000
	}
	return o
}

// OptionKeys lists the keys Set accepts (without the "s3." prefix).
var OptionKeys = []string{
	"region", "bucket-lookup", "path-style", "endpoint", "cacert", "profile",
	"storage-class", "connections", "multipart-threshold", "part-size",
	"retries", "max-backoff", "list-max-keys",
}

// Set applies one option given as key=value, as in `-o s3.region=eu-north-1`.
// The "s3." prefix of key is optional. Credentials are not options: they
// come from the environment or the AWS configuration files.
func (o *Options) Set(key, value string) error {
	k := strings.TrimPrefix(key, "s3.")
	bad := func(err error) error { return fmt.Errorf("option s3.%s: %w", k, err) }
	switch k {
	case "region":
		o.Region = value
	case "bucket-lookup":
		switch BucketLookup(value) {
		case LookupAuto, LookupDNS, LookupPath:
			o.BucketLookup = BucketLookup(value)
		default:
			return bad(errors.New(`want "auto", "dns" or "path"`))
		}
	case "path-style":
		v, err := strconv.ParseBool(value)
		if err != nil {
			return bad(errors.New("want true or false"))
		}
		o.BucketLookup = LookupDNS
		if v {
			o.BucketLookup = LookupPath
		}
	case "endpoint":
		o.Endpoint = value
	case "cacert":
		o.CACertFile = value
	case "profile":
		o.Profile = value
	case "storage-class":
		o.StorageClass = value
	case "connections":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 1000 {
			return bad(errors.New("want a number from 1 to 1000"))
		}
		o.Connections = n
	case "multipart-threshold", "part-size":
		n, err := ParseSize(value)
		if err != nil {
			return bad(err)
		}
		if k == "part-size" {
			if n < MinPartSize {
				return bad(errors.New("must be at least 5MiB"))
			}
			o.PartSize = n
		} else {
			o.MultipartThreshold = n
		}
	case "retries":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > 100 {
			return bad(errors.New("want a number from 0 to 100"))
		}
		o.MaxAttempts = n + 1
	case "max-backoff":
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			return bad(errors.New("want a positive duration such as 20s"))
		}
		o.MaxBackoff = d
	case "list-max-keys":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 1000 {
			return bad(errors.New("want a number from 1 to 1000"))
		}
		o.ListMaxKeys = n
	default:
		return fmt.Errorf("unknown option s3.%s (known: %s)", k, strings.Join(OptionKeys, ", "))
	}
	return nil
}

// ParseOption is Options.Set as a function.
func ParseOption(o *Options, key, value string) error { return o.Set(key, value) }

// ParseSize parses a byte count: a number with an optional unit (B, K,
// KiB, M, MiB, G, GiB; powers of 1024).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a size such as 16MiB")
	}
	var shift uint
	switch unit {
	case "", "b":
	case "k", "kb", "kib":
		shift = 10
	case "m", "mb", "mib":
		shift = 20
	case "g", "gb", "gib":
		shift = 30
	default:
		return 0, errors.New("want a size such as 16MiB")
	}
	if n > (1<<62)>>shift {
		return 0, errors.New("size too large")
	}
	return n << shift, nil
}
