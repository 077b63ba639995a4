package repository

import (
	"context"
	"encoding/json"
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkSaveBlob measures SaveBlob throughput (compress, encrypt,
// pack, write to a local directory) from parallel callers.
func BenchmarkSaveBlob(b *testing.B) {
	for _, c := range []struct {
		name         string
		compressible bool
	}{{"random", false}, {"text", true}} {
		b.Run(c.name, func(b *testing.B) {
			r, _ := newTestRepo(b, Options{})
			const size = 1 << 20
			base := randomData(1, size, c.compressible)
			var n atomic.Uint64
			b.SetBytes(size)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				data := append([]byte(nil), base...)
				for pb.Next() {
					// A unique prefix per blob defeats deduplication.
					i := n.Add(1)
					for k := 0; k < 8; k++ {
						data[k] = byte(i >> (8 * k))
					}
					if _, _, _, err := r.SaveBlob(context.Background(), DataBlob, data, ID{}, false); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := r.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkLoadBlob measures loading, decrypting, decompressing and
// verifying 1 MiB blobs.
func BenchmarkLoadBlob(b *testing.B) {
	ctx := context.Background()
	r, _ := newTestRepo(b, Options{})
	var ids IDs
	for i := 0; i < 32; i++ {
		id, _, _, err := r.SaveBlob(ctx, DataBlob, randomData(uint64(i), 1<<20, i%2 == 0), ID{}, false)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := r.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 20)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		i := 0
		for pb.Next() {
			var err error
			if buf, err = r.LoadBlob(ctx, DataBlob, ids[i%len(ids)], buf); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkIndexLookup measures lookups in an index of a million blobs.
func BenchmarkIndexLookup(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 1 << 20
	x := newIndexSized(n)
	handles := make([]BlobHandle, 0, n)
	for p := 0; p < n/1000; p++ {
		var pid ID
		pid[0], pid[1], pid[2] = byte(p), byte(p>>8), 0xff
		ip := indexPack{ID: jsonID(pid)}
		for i := 0; i < 1000; i++ {
			var id ID
			k := p*1000 + i
			id[0], id[1], id[2], id[3] = byte(k), byte(k>>8), byte(k>>16), byte(k>>24)
			id = Hash(id[:])
			ip.Blobs = append(ip.Blobs, indexBlob{ID: jsonID(id), Type: DataBlob, Offset: uint(i * 100), Length: 100})
			handles = append(handles, BlobHandle{ID: id, Type: DataBlob})
		}
		x.addLocked(ip)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// handles (33 bytes each) are the benchmark's, not the index's.
	perBlob := float64(after.HeapAlloc-before.HeapAlloc)/n - 33
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := x.lookup(handles[i%len(handles)]); !ok {
				b.Error("missing")
				return
			}
			i += 7919
		}
	})
	b.ReportMetric(perBlob, "index-bytes/blob")
}

// BenchmarkDecodeIndex measures parsing an index file of IndexMaxBlobs
// blobs.
func BenchmarkDecodeIndex(b *testing.B) {
	x := &indexJSON{}
	for p := 0; p < IndexMaxBlobs/500; p++ {
		ip := indexPack{ID: jsonID(Hash([]byte{byte(p), byte(p >> 8)}))}
		for i := 0; i < 500; i++ {
			ip.Blobs = append(ip.Blobs, indexBlob{ID: jsonID(Hash([]byte{byte(p), byte(p >> 8), byte(i), byte(i >> 8)})), Type: DataBlob, Offset: uint(i * 1000), Length: 1000, UncompressedLength: 2000})
		}
		x.Packs = append(x.Packs, ip)
	}
	buf, err := json.Marshal(x)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := decodeIndex(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadBlobsFromPack measures loading all blobs of a 16 MiB pack
// (half compressible) with pack-wise ranged reads.
func BenchmarkLoadBlobsFromPack(b *testing.B) {
	ctx := context.Background()
	r, _ := newTestRepo(b, Options{PackSize: 32 << 20})
	var locs []PackedBlob
	for i := 0; i < 16; i++ {
		if _, _, _, err := r.SaveBlob(ctx, DataBlob, randomData(uint64(i), 1<<20, i%2 == 0), ID{}, false); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	r.EachBlob(func(pb PackedBlob) bool {
		if pb.Type == DataBlob {
			locs = append(locs, pb)
		}
		return true
	})
	b.SetBytes(16 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := r.LoadBlobsFromPack(ctx, locs[0].PackID, locs, func(_ PackedBlob, _ []byte, err error) error { return err })
		if err != nil {
			b.Fatal(err)
		}
	}
}
