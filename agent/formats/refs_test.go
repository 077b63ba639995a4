package formats

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// tagger is a collecting matcher, as the subject index uses one: every
// candidate matches, and its ref is a tag derived from kind and candidate.
// It counts its calls, to show when the scanner answered from its memo.
type tagger struct {
	mu    sync.Mutex
	calls int
}

func tag(k Kind, cand string) string {
	h := sha256.Sum256([]byte(string(k) + "\x00" + cand))
	return hex.EncodeToString(h[:8])
}

func (g *tagger) Lookup(k Kind, cand string) (string, bool) {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	return tag(k, cand), true
}
func (g *tagger) CustomKinds() []CustomKind { return nil }

// TestRefsSameCandidateTwoFiles: the scanner's memo answers for an
// address seen in an earlier file, and the later file's result still names
// it, in its record and in the file's refs.
func TestRefsSameCandidateTwoFiles(t *testing.T) {
	want := []string{tag(KindEmail, tEmail)}
	for _, all := range []bool{true, false} {
		g := &tagger{}
		sc := NewScanner(g, &Options{AllCandidates: all})
		for _, name := range []string{"a.txt", "b.txt"} {
			res := sc.Scan(name, []byte("hej\nmejla "+tEmail+" idag\n"))
			if len(res.Records) != 1 || !slices.Equal(res.Records[0].Refs, want) || !slices.Equal(res.Refs(), want) {
				t.Errorf("all=%v %s: records %+v, refs %v; want %v", all, name, res.Records, res.Refs(), want)
			}
		}
		if g.calls != 1 {
			t.Errorf("all=%v: %d matcher calls; the memo was not used for the second file", all, g.calls)
		}
	}
}

// TestRefsPerRecord: each record names exactly the identifiers in it, also
// when the same one occurs in several records or several times in one.
func TestRefsPerRecord(t *testing.T) {
	m := newMatcher(t, "email="+tEmail, "phone="+tPhone, "personnummer="+tPnr)
	// NewIdentifierMatcher names the N-th identifier "identifier-N".
	email, phone, pnr := "identifier-1", "identifier-2", "identifier-3"
	data := "rad 1 " + tEmail + " och " + strings.ToUpper(tEmail) + "\n" +
		"rad 2 inget\n" +
		"rad 3 " + tPnr + " " + tEmail + "\n" +
		"rad 4 070-123 45 67\n"
	for _, all := range []bool{true, false} {
		res := NewScanner(m, &Options{AllCandidates: all}).Scan("x.log", []byte(data))
		var got [][]string
		for _, r := range res.Records {
			got = append(got, r.Refs)
		}
		want := [][]string{{email}, {email, pnr}, {phone}}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("all=%v: record refs %v, want %v", all, got, want)
		}
		if r := res.Refs(); !slices.Equal(r, []string{email, phone, pnr}) {
			t.Errorf("all=%v: file refs %v", all, r)
		}
	}
}

// TestRefsAllCandidates: with AllCandidates, a record names every
// identifier of a kind in it, not only the first that matched.
func TestRefsAllCandidates(t *testing.T) {
	g := &tagger{}
	res := NewScanner(g, &Options{AllCandidates: true}).Scan("x.txt", []byte("a@b.se c@d.se a@b.se\n"))
	want := sortUnique([]string{tag(KindEmail, "a@b.se"), tag(KindEmail, "c@d.se")})
	if len(res.Records) != 1 || !slices.Equal(res.Records[0].Refs, want) {
		t.Errorf("records %+v, want refs %v", res.Records, want)
	}
}

// TestRefsNested: identifiers found inside containers and attachments, in
// headers between records and in broken files reach the refs of the record
// (or whole file) that holds them, and nothing else.
func TestRefsNested(t *testing.T) {
	m := newMatcher(t, "email="+tEmail, "phone="+tPhone)
	email, phone := "identifier-1", "identifier-2"
	attach := mailHead + "Subject: x\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nhej\n" +
		"--b\nContent-Type: text/csv; name=\"a.csv\"\n\nnamn,tel\nA,070-123 45 67\n--b--\n"
	mbox := "From a Mon\nFrom: x\n\n" + tEmail + "\n\nFrom b Tue\nFrom: y\n\nhej\n\nFrom c Wed\nFrom: z\n\n0701234567\n"
	cases := []struct {
		name string
		data []byte
		want [][]string
	}{
		{"m.eml", []byte(attach), [][]string{{phone}}},
		{"x.zip", zipBytes(t, map[string]string{"a.txt": tEmail, "b.xml": "<t>070-123 45 67</t>"}), [][]string{{email, phone}}},
		{"x.csv.gz", gzipBytes(t, "a,b\n1,"+tEmail+"\n"), [][]string{{email}}},
		{"arkiv.mbox", []byte(mbox), [][]string{{email}, {phone}}},
		{"h.csv", []byte("id," + tEmail + "\n1,070-123 45 67\n2,x\n"), [][]string{{email, phone}}},
		{"trasig.json", []byte(`[{"e":"` + tEmail + `"`), [][]string{{email}}},
		{"tom.txt", []byte("inget här\n"), nil},
	}
	for _, c := range cases {
		res := ScanBytes(c.name, c.data, m, nil)
		var got [][]string
		for _, r := range res.Records {
			got = append(got, r.Refs)
		}
		if !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("%s (%s): record refs %v, want %v", c.name, res.Format, got, c.want)
		}
	}
}

// TestRefsManyDistinct: a collecting matcher gives every candidate its own
// ref, more than the scanner's table of refs holds; every record still
// names its own, in a first scan and in a second one that the memo
// partly answers.
func TestRefsManyDistinct(t *testing.T) {
	var b strings.Builder
	var want []string
	for i := range 3 * maxRefTab {
		a := fmt.Sprintf("kund%d@example.se", i%(2*maxRefTab+7))
		fmt.Fprintf(&b, "rad %d: %s\n", i, a)
		want = append(want, tag(KindEmail, a))
	}
	sc := NewScanner(&tagger{}, nil)
	for pass := range 2 {
		res := sc.Scan("x.log", []byte(b.String()))
		if len(res.Records) != len(want) {
			t.Fatalf("pass %d: %d records, want %d", pass, len(res.Records), len(want))
		}
		for i, r := range res.Records {
			if !slices.Equal(r.Refs, want[i:i+1]) {
				t.Fatalf("pass %d, record %d: refs %v, want %v", pass, i, r.Refs, want[i])
			}
		}
	}
}
