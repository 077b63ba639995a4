package s3_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"lethe/backends"
	"lethe/backends/s3"
	"lethe/backends/s3test"
)

// BenchmarkS3 measures Save and Load of pack-sized objects against the
// local test server: go test -run XXX -bench S3 ./backends/s3/
func BenchmarkS3(b *testing.B) {
	srv := s3test.Start(b)
	ctx := context.Background()
	opts := s3.Options{Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
	loc, err := s3.ParseURL(srv.URL(srv.NewBucket(b, false), "bench"))
	if err != nil {
		b.Fatal(err)
	}
	be, err := s3.Create(ctx, loc, opts)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{4 << 20, 16 << 20} {
		data := randomBytes(rng, size)
		var names []string
		b.Run(fmt.Sprintf("Save%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				name := fmt.Sprintf("%064x", rng.Uint64())
				if err := be.Save(ctx, backends.Handle{Type: backends.PackFile, Name: name}, data); err != nil {
					b.Fatal(err)
				}
				names = append(names, name)
			}
		})
		b.Run(fmt.Sprintf("Load%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				h := backends.Handle{Type: backends.PackFile, Name: names[i%len(names)]}
				if err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
					_, err := io.Copy(io.Discard, rd)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
