package receipts

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"lethe/tombstones"
)

// ReceiptsPrefix is where issued receipts live below lethe/.
const ReceiptsPrefix = "erasures/receipts/"

// Issuer signs receipts with the agent's key and keeps them in every
// repository. The erasure engine calls Issue with the facts of a request;
// the receipts commands call List and Load.
type Issuer struct {
	Keys *Keys
	Now  func() time.Time
}

func (s *Issuer) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Issue gives f a new receipt id and the issue time, signs it, and saves
// the signed file as lethe/erasures/receipts/<id> in every reachable
// repository (encrypted by the repository). It returns the receipt.
func (s *Issuer) Issue(ctx context.Context, f Facts) (Receipt, error) {
	key, err := s.Keys.Key(ctx)
	if err != nil {
		return Receipt{}, err
	}
	now := s.now()
	id, err := ulid.New(ulid.Timestamp(now), rand.Reader)
	if err != nil {
		return Receipt{}, fmt.Errorf("generating receipt id: %w", err)
	}
	f.Version, f.ReceiptID, f.Issued = FormatVersion, id.String(), now
	r, err := Sign(f, key)
	if err != nil {
		return Receipt{}, err
	}
	saved := 0
	for _, repo := range s.Keys.Repos {
		if err := Save(ctx, repo.Store, r); err != nil {
			if rerr := s.Keys.repoErr(repo.Name, err); rerr != nil {
				return r, rerr
			}
			continue
		}
		saved++
	}
	if saved == 0 {
		return r, errors.New("issuing receipt: no repository could store it")
	}
	return r, nil
}

// Save stores a signed receipt in st under its id.
func Save(ctx context.Context, st tombstones.Store, r Receipt) error {
	if err := st.SaveLethe(ctx, ReceiptsPrefix+r.Facts.ReceiptID, r.File); err != nil {
		return fmt.Errorf("saving receipt %s: %w", r.Facts.ReceiptID, err)
	}
	return nil
}

// Load reads receipt id from st and verifies it with pub.
func Load(ctx context.Context, st tombstones.Store, id string, pub ed25519.PublicKey) (Receipt, error) {
	id = strings.ToUpper(strings.TrimSpace(id))
	if !tombstones.ValidID(id) {
		return Receipt{}, errors.New("receipt id: not a valid id")
	}
	data, err := st.LoadLethe(ctx, ReceiptsPrefix+id)
	if err != nil {
		return Receipt{}, fmt.Errorf("loading receipt %s: %w", id, err)
	}
	r, err := Verify(data, pub)
	if err != nil {
		return Receipt{}, fmt.Errorf("receipt %s: %w", id, err)
	}
	if r.Facts.ReceiptID != id {
		return Receipt{}, fmt.Errorf("receipt %s: the object holds receipt %s", id, r.Facts.ReceiptID)
	}
	return r, nil
}

// List returns every receipt in st, verified with pub, oldest first.
func List(ctx context.Context, st tombstones.Store, pub ed25519.PublicKey) ([]Receipt, error) {
	var ids []string
	err := st.ListLethe(ctx, ReceiptsPrefix, func(name string) error {
		ids = append(ids, strings.TrimPrefix(name, ReceiptsPrefix))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing receipts: %w", err)
	}
	sort.Strings(ids)
	out := make([]Receipt, 0, len(ids))
	for _, id := range ids {
		r, err := Load(ctx, st, id, pub)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Find returns the receipt with the given receipt id, or the latest receipt
// of the request with that id.
func Find(rs []Receipt, id string) (Receipt, bool) {
	id = strings.ToUpper(strings.TrimSpace(id))
	var found *Receipt
	for i := range rs {
		r := &rs[i]
		if r.Facts.ReceiptID == id {
			return *r, true
		}
		if r.Facts.RequestID == id && (found == nil || r.Facts.ReceiptID > found.Facts.ReceiptID) {
			found = r
		}
	}
	if found == nil {
		return Receipt{}, false
	}
	return *found, true
}
