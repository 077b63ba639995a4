package formats

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// nestedMultipart is a mail of depth nested multiparts with the subject's
// address in the innermost part (20,000 levels make about 1 MB).
func nestedMultipart(depth int) []byte {
	var b bytes.Buffer
	b.WriteString(mailHead + "Subject: x\n")
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\n\nKontakt: " + tEmail + "\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\n", i)
	}
	return b.Bytes()
}

func TestDeepMIME(t *testing.T) {
	for _, depth := range []int{maxMIMEDepth, 20000} {
		data := nestedMultipart(depth)
		res := ScanBytes("x.eml", data, allMatcher(t), nil)
		if len(res.Records) != 1 || !res.Whole {
			t.Fatalf("depth %d: %+v", depth, res)
		}
		if deep := depth > maxMIMEDepth; deep != (res.Fallback != "") {
			t.Errorf("depth %d: fallback %q", depth, res.Fallback)
		}
		// In an mbox, the deep message is one record like the others.
		mbox := "From a Mon Mar  3 08:00:00 2025\n" + string(data) + "\nFrom b Mon Mar  3 08:00:00 2025\n" + mailHead + "\nHej\n"
		res = ScanBytes("x.mbox", []byte(mbox), allMatcher(t), nil)
		if res.Format != FormatMbox || len(res.Records) != 1 || res.Records[0].Index != 0 || res.NumRecords != 2 {
			t.Errorf("depth %d in mbox: %+v", depth, res)
		}
	}
}

// BenchmarkDeepMIME is the time of a 1 MB mail of 20,000 nested
// multiparts, which the depth cap keeps linear.
func BenchmarkDeepMIME(b *testing.B) {
	m := allMatcher(b)
	for _, depth := range []int{1000, 20000} {
		data := nestedMultipart(depth)
		b.Run(fmt.Sprint(depth), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			sc := NewScanner(m, nil)
			for b.Loop() {
				sc.Scan("x.eml", data)
			}
		})
	}
}

// gzipBomb is n MiB of zeros, compressed as n gzip members.
func gzipBomb(t testing.TB, n int) []byte {
	var one bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&one, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(one.Bytes(), n)
}

// allocated returns the bytes allocated while fn ran, an upper bound of
// its peak heap.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// slack is the memory a scan may need beyond twice MaxSize: the stream
// window and its UTF-16 decoding.
const slack = streamOverlap + streamChunk + (streamOverlap+streamChunk)/2*3 + 2<<20

func TestGzipBomb(t *testing.T) {
	// More zeros than the bound, and content over MaxSize.
	const maxSize = 512 << 10
	bomb := gzipBomb(t, 16) // 16 MiB of zeros
	inner := gzipBytes(t, "a,b\n"+strings.Repeat("0", 1<<20)+"\n1,"+tEmail+"\n")
	opts := &Options{MaxSize: maxSize}
	m := allMatcher(t)
	for name, c := range map[string]struct {
		data []byte
		hit  bool
	}{"zeros.gz": {bomb, false}, "big.csv.gz": {inner, true}, "zeros.tar.gz": {bomb, false}} {
		var res *Result
		n := allocated(func() { res = ScanBytes(name, c.data, m, opts) })
		if res.Format != FormatGzip || res.Fallback != "" || (len(res.Records) == 1) != c.hit {
			t.Errorf("%s: %+v", name, res)
		}
		if limit := uint64(2*maxSize + slack); n > limit {
			t.Errorf("%s: scanning allocated %d MiB, more than 2×MaxSize + %d MiB", name, n>>20, slack>>20)
		}
	}
	// The UTF-16 decoding of large raw bytes is windowed too.
	zeros := make([]byte, 16<<20)
	copy(zeros[13<<20+7:], utf16Bytes(tEmail, false))
	x := newExtractor(m)
	var k kindSet
	if n := allocated(func() { k = x.scanRaw(zeros) }); n > slack {
		t.Errorf("scanning 16 MiB of raw bytes allocated %d MiB", n>>20)
	}
	if k != bitEmail {
		t.Errorf("kinds %v", x.kinds(k))
	}
}

// BenchmarkGzipBomb is the time of scanning 64 MiB of zeros compressed to
// 64 KiB, with MaxSize 4 MiB: streamed, not held.
func BenchmarkGzipBomb(b *testing.B) {
	bomb := gzipBomb(b, 64)
	sc := NewScanner(allMatcher(b), &Options{MaxSize: 4 << 20})
	b.SetBytes(64 << 20)
	b.ReportAllocs()
	for b.Loop() {
		sc.Scan("zeros.gz", bomb)
	}
}
