package formats

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"slices"
	"strings"
	"testing"
)

type tarMember struct {
	name, body string
	flag       byte
	link       string
}

func tarBytes(t testing.TB, members []tarMember) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: m.flag, Linkname: m.link, Format: tar.FormatPAX}
		if m.flag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(m.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tarContents reads an archive with archive/tar to its end: its members'
// names and contents, in order.
func tarContents(t *testing.T, data []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("reading the archive: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		got = append(got, h.Name+"="+string(body))
	}
}

var tarCase = []tarMember{
	{name: "kunder/", flag: tar.TypeDir},
	{name: "kunder/register.csv", body: "namn;epost\nPer;per@example.se\n"},
	{name: "kunder/anna.svensson@example.se.pdf", body: "%PDF-1.4 nothing here"},
	{name: "kunder/anteckning.txt", body: "Ring " + tPhone + " imorgon\n"},
	{name: "kunder/länk", flag: tar.TypeSymlink, link: "register.csv"},
	{name: "kunder/" + strings.Repeat("lång-mapp/", 20) + "avtal-19800101-1231.txt", body: "avtal"},
	{name: "kunder/utskick.csv.gz", body: "gzip:namn,epost\nAnna," + tEmail + "\n"},
	{name: "kunder/ok.txt", body: strings.Repeat("x", 1500)},
}

func tarCaseBytes(t *testing.T) ([]byte, []string) {
	ms := slices.Clone(tarCase)
	for i, m := range ms {
		if b, ok := strings.CutPrefix(m.body, "gzip:"); ok {
			ms[i].body = string(gzipBytes(t, b))
		}
	}
	data := tarBytes(t, ms)
	var kept []string
	for i, m := range ms {
		if i != 2 && i != 3 && i != 5 && i != 6 {
			kept = append(kept, m.name+"="+m.body)
		}
	}
	return data, kept
}

func TestTar(t *testing.T) {
	data, kept := tarCaseBytes(t)
	if f := Detect("backup.tar", data); f != FormatTar {
		t.Fatalf("detected %s", f)
	}
	if f := Detect("backup", data); f != FormatTar {
		t.Fatalf("detected %s without a name", f)
	}
	res := ScanBytes("backup.tar", data, allMatcher(t), nil)
	if res.Format != FormatTar || res.Whole || res.Fallback != "" || res.NumRecords != len(tarCase) {
		t.Fatalf("%+v", res)
	}
	var idx []int
	for _, r := range res.Records {
		idx = append(idx, r.Index)
		if r.Offset%512 != 0 || r.Length%512 != 0 {
			t.Errorf("record %d not on blocks: %+v", r.Index, r)
		}
	}
	if !slices.Equal(idx, []int{2, 3, 5, 6}) {
		t.Fatalf("records %v", idx)
	}
	out, gone := RedactBytes(data, res, res.Records)
	if gone {
		t.Fatal("gone")
	}
	if got := tarContents(t, out); !slices.Equal(got, kept) {
		t.Errorf("kept\n%q\nwant\n%q", got, kept)
	}
	// Every kept member's blocks are the original blocks.
	all := ScanBytes("backup.tar", data, everything{}, nil)
	var want []byte
	for _, r := range all.Records {
		if !slices.Contains(idx, r.Index) {
			want = append(want, data[r.Offset:r.Offset+r.Length]...)
		}
	}
	if last := all.Records[len(all.Records)-1]; !bytes.Equal(out, append(want, data[last.Offset+last.Length:]...)) {
		t.Error("kept members are not byte-identical")
	}
	// Removing one member at a time leaves a valid archive.
	for i := range res.Records {
		out, _ := RedactBytes(data, res, res.Records[i:i+1])
		if n := len(tarContents(t, out)); n != len(tarCase)-1 {
			t.Errorf("removing record %d left %d members", res.Records[i].Index, n)
		}
	}
}

func TestTarGzip(t *testing.T) {
	data, kept := tarCaseBytes(t)
	for _, name := range []string{"backup.tar.gz", "backup.tgz", "backup.gz"} {
		gz := gzipBytes(t, string(data))
		res := ScanBytes(name, gz, allMatcher(t), nil)
		if res.Format != FormatTar || res.Whole || len(res.Records) != 4 {
			t.Fatalf("%s: %+v", name, res)
		}
		out, gone := RedactBytes(gz, res, res.Records)
		if gone {
			t.Fatal("gone")
		}
		zr, err := gzip.NewReader(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if got := tarContents(t, plain); !slices.Equal(got, kept) {
			t.Errorf("%s: kept %q", name, got)
		}
		if out, _ := RedactBytes(gz, res, nil); !bytes.Equal(out, gz) {
			t.Errorf("%s: no records removed changed the file", name)
		}
	}
}

func TestTarBroken(t *testing.T) {
	data, _ := tarCaseBytes(t)
	cut := data[:len(data)/2]
	res := ScanBytes("x.tar", cut, allMatcher(t), nil)
	if res.Fallback == "" || !res.Whole {
		t.Errorf("truncated archive: %+v", res)
	}
}
