package s3_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"lethe/backends/s3"
)

// TestOpenWithoutCredentials: with no credentials anywhere in the AWS
// chain, opening says so and how to set them, instead of passing on the
// error of the chain's last provider (the EC2 metadata service).
func TestOpenWithoutCredentials(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	// The metadata service answers nothing here, fast.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	loc, err := s3.ParseURL("s3:http://127.0.0.1:1/bucket")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s3.Open(context.Background(), loc, s3.Options{})
	if err == nil || !strings.Contains(err.Error(), "no S3 credentials found (set AWS_ACCESS_KEY_ID") {
		t.Fatalf("Open without credentials: %v", err)
	}
}
