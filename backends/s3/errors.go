package s3

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// errNoSuchBucket marks errors for a bucket that does not exist.
var errNoSuchBucket = errors.New("bucket does not exist")

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return err != nil && errors.As(err, &ae) && ae.ErrorCode() == code
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if err != nil && errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func responseHeader(err error, name string) string {
	var re *awshttp.ResponseError
	if err != nil && errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get(name)
	}
	return ""
}

// isNotFound reports a missing object (HEAD answers 404 without a code).
func isNotFound(err error) bool {
	var nk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nk) || errors.As(err, &nf) {
		return true
	}
	return !isCode(err, "NoSuchBucket") && httpStatus(err) == http.StatusNotFound
}

func isAccessDenied(err error) bool {
	return isCode(err, "AccessDenied") || httpStatus(err) == http.StatusForbidden
}

// wrap turns an SDK error into one that says what failed and why, naming
// the bucket and the operation. SDK errors carry request IDs and server
// messages, never credentials. Missing objects wrap fs.ErrNotExist.
func (b *Backend) wrap(op, what string, err error) error {
	prefix := fmt.Sprintf("%s %s", op, what)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", prefix, err)
	case errors.Is(err, fs.ErrNotExist), isCode(err, "NoSuchKey") || isCode(err, "NotFound") || isNotFound(err):
		return fmt.Errorf("%s: %w", prefix, fs.ErrNotExist)
	case isCode(err, "NoSuchBucket"):
		return fmt.Errorf("%s: bucket %q does not exist at %s: %w", prefix, b.loc.Bucket, b.loc.Endpoint, errNoSuchBucket)
	case isCode(err, "AuthorizationHeaderMalformed"), isCode(err, "PermanentRedirect"),
		isCode(err, "IllegalLocationConstraintException"), httpStatus(err) == http.StatusMovedPermanently:
		msg := fmt.Sprintf("%s: bucket %q is not in region %q", prefix, b.loc.Bucket, b.opts.Region)
		if r := responseHeader(err, "X-Amz-Bucket-Region"); r != "" {
			msg += fmt.Sprintf(" but in %q", r)
		}
		return fmt.Errorf("%s (set the option s3.region): %w", msg, err)
	case isCode(err, "InvalidAccessKeyId"), isCode(err, "SignatureDoesNotMatch"):
		return fmt.Errorf("%s: bucket %q refused the credentials (check the access key ID and secret): %w", prefix, b.loc.Bucket, err)
	case isAccessDenied(err):
		return fmt.Errorf("%s: access to bucket %q denied (check the credentials and the bucket policy): %w", prefix, b.loc.Bucket, err)
	}
	return fmt.Errorf("%s in bucket %q: %w", prefix, b.loc.Bucket, err)
}

// retained reports a deletion refused because of Object Lock (AWS: 403;
// MinIO: 400 "Object is WORM protected").
func retained(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		m := strings.ToLower(ae.ErrorMessage())
		if strings.Contains(m, "worm") || strings.Contains(m, "retention") || strings.Contains(m, "legal hold") {
			return true
		}
	}
	return isAccessDenied(err)
}
