package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"lethe/agent/receipts"
	"lethe/tombstones"
)

// receiptOptions are the flags the receipts commands share.
type receiptOptions struct {
	stateDir string
	pubkey   string
	format   string
	lang     string
}

func (o *receiptOptions) addStateFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.stateDir, "state-dir", tombstones.StateDirFromEnv(), "local state `directory` (env LETHE_STATE_DIR)")
}

func (o *receiptOptions) addPubkeyFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.pubkey, "pubkey", "", "verify with this public `key` (a PEM file, or the key's base64) instead of this agent's own")
}

func (o *receiptOptions) addRenderFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.format, "format", "text", "output `format`: json (the signed file), text, md or html")
	cmd.Flags().StringVar(&o.lang, "lang", "", "`language` of the text: sv or en (default from LANG)")
}

// receiptKeys opens the repository when --repo is given and returns the key
// store over it and the state directory.
func (g *globalOptions) receiptKeys(ctx context.Context, o *receiptOptions) (*receipts.Keys, tombstones.Store, func(), error) {
	keys := &receipts.Keys{
		StateDir: o.stateDir,
		Warn: func(repo string, err error) {
			g.warnf("warning: %v\n", err)
		},
	}
	if g.repo == "" {
		return keys, nil, func() {}, nil
	}
	repo, _, release, err := g.lockedRepository(ctx, adding, false)
	if err != nil {
		return nil, nil, nil, err
	}
	keys.Repos = []tombstones.Repo{{Name: repo.Backend().Location(), Store: repo}}
	return keys, repo, func() { _ = release() }, nil
}

// publicKey returns the key to verify with: --pubkey, or this agent's.
func (g *globalOptions) publicKey(ctx context.Context, o *receiptOptions, keys *receipts.Keys) (ed25519.PublicKey, error) {
	if o.pubkey != "" {
		data := []byte(o.pubkey)
		if b, err := os.ReadFile(o.pubkey); err == nil {
			data = b
		}
		return receipts.ParsePublicKey(data)
	}
	k, err := keys.Load(ctx)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errors.New("no receipt signing key here (state directory and repository); give the business's key with --pubkey")
	}
	return k.Public().(ed25519.PublicKey), nil
}

func (o *receiptOptions) rendering() (receipts.Format, receipts.Lang, error) {
	f, err := receipts.ParseFormat(o.format)
	if err != nil {
		return "", "", err
	}
	if o.lang == "" {
		return f, receipts.LangFromEnv(os.Getenv), nil
	}
	l, err := receipts.ParseLang(o.lang)
	return f, l, err
}

func newReceiptsCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "receipts",
		Short: "Show, verify and render signed erasure receipts, and the key that signs them",
		Long: `Receipts are signed statements of what an erasure did (docs/receipts.md).

verify exits 0 when the file is a receipt signed by the key and unchanged in
every byte, 1 otherwise.`,
	}

	var (
		po     receiptOptions
		create bool
	)
	pubkey := &cobra.Command{
		Use:   "pubkey",
		Short: "Print the public key receipts are signed with, to publish",
		Long: `Print the public key receipts are signed with, and its fingerprint, to
publish. The key is made by the first receipt; pubkey only reads it, so
that a state directory or a repository never gets a key that disagrees with
the one the agent already has. To publish the key before the first
receipt, make it with --create, in the repository (--repo), where every
machine of the agent finds it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if create && g.repo == "" {
				return errors.New("--create needs --repo: the key is kept in the repository, so that every machine signs with it")
			}
			keys, _, done, err := g.receiptKeys(cmd.Context(), &po)
			if err != nil {
				return err
			}
			defer done()
			var k ed25519.PrivateKey
			if create {
				k, err = keys.Key(cmd.Context())
			} else {
				k, err = keys.Load(cmd.Context())
			}
			if err != nil {
				return err
			}
			if k == nil {
				where := "in the state directory " + po.stateDir
				if g.repo != "" {
					where += " or the repository"
				}
				return fmt.Errorf("no receipt signing key yet %s: the first receipt makes it; "+
					"to publish it before, make it with `lethe -r REPO receipts pubkey --create`", where)
			}
			pub := k.Public().(ed25519.PublicKey)
			pemKey, err := receipts.MarshalPublicKey(pub)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, struct {
					PublicKey   string `json:"public_key"`
					Fingerprint string `json:"fingerprint"`
				}{string(pemKey), receipts.Fingerprint(pub)})
			}
			fmt.Fprintf(g.stdout, "%sfingerprint: %s\n", pemKey, receipts.Fingerprint(pub))
			return nil
		},
	}
	po.addStateFlag(pubkey)
	pubkey.Flags().BoolVar(&create, "create", false, "make the key if there is none yet (needs --repo)")

	var vo receiptOptions
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a receipt's signature and canonical form (exit 1 on any change)",
		Args:  argsOf(1, 1, "one receipt file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.verifyFile(cmd.Context(), &vo, args[0])
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, struct {
					Receipt string `json:"receipt_id"`
					Request string `json:"request_id"`
					Key     string `json:"key"`
					Final   bool   `json:"final"`
				}{r.Facts.ReceiptID, r.Facts.RequestID, r.Key, r.Facts.Final})
			}
			kind := "final"
			if !r.Facts.Final {
				kind = "interim"
			}
			fmt.Fprintf(g.stdout, "receipt %s (%s, request %s): signature valid, signed by %s\n", r.Facts.ReceiptID, kind, r.Facts.RequestID, r.Key)
			return nil
		},
	}
	vo.addStateFlag(verify)
	vo.addPubkeyFlag(verify)

	var ro receiptOptions
	render := &cobra.Command{
		Use:   "render FILE",
		Short: "Verify a signed receipt file and write it for the customer",
		Args:  argsOf(1, 1, "one receipt file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, lang, err := ro.rendering()
			if err != nil {
				return err
			}
			r, err := g.verifyFile(cmd.Context(), &ro, args[0])
			if err != nil {
				return err
			}
			return receipts.Render(g.stdout, r, format, lang)
		},
	}
	ro.addStateFlag(render)
	ro.addPubkeyFlag(render)
	ro.addRenderFlags(render)

	var lo receiptOptions
	list := &cobra.Command{
		Use:   "list",
		Short: "List the receipts kept in the repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, done, err := g.storedReceipts(cmd.Context(), &lo)
			if err != nil {
				return err
			}
			defer done()
			if g.json {
				facts := make([]receipts.Facts, len(rs))
				for i, r := range rs {
					facts[i] = r.Facts
				}
				return printJSON(g.stdout, facts)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RECEIPT\tREQUEST\tISSUED\tSTATUS\tBUSINESS")
			for _, r := range rs {
				status := "final"
				if !r.Facts.Final {
					status = "interim"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Facts.ReceiptID, r.Facts.RequestID,
					r.Facts.Issued.UTC().Format("2006-01-02 15:04"), status, r.Facts.Business.Name)
			}
			return tw.Flush()
		},
	}
	lo.addStateFlag(list)
	lo.addPubkeyFlag(list)

	var so receiptOptions
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a receipt by its id, or the latest receipt of a request (tombstone) id",
		Args:  argsOf(1, 1, "one receipt ID, or a request (tombstone) ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, lang, err := so.rendering()
			if err != nil {
				return err
			}
			rs, done, err := g.storedReceipts(cmd.Context(), &so)
			if err != nil {
				return err
			}
			defer done()
			r, ok := receipts.Find(rs, args[0])
			if !ok {
				return fmt.Errorf("receipt %s: not found", args[0])
			}
			return receipts.Render(g.stdout, r, format, lang)
		},
	}
	so.addStateFlag(show)
	so.addPubkeyFlag(show)
	so.addRenderFlags(show)

	cmd.AddCommand(pubkey, verify, render, list, show)
	return cmd
}

// verifyFile reads and verifies a signed receipt file.
func (g *globalOptions) verifyFile(ctx context.Context, o *receiptOptions, path string) (receipts.Receipt, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return receipts.Receipt{}, fmt.Errorf("reading receipt: %w", err)
	}
	var keys *receipts.Keys
	if o.pubkey == "" { // the agent's own key: open the repository for it
		k, _, done, err := g.receiptKeys(ctx, o)
		if err != nil {
			return receipts.Receipt{}, err
		}
		defer done()
		keys = k
	}
	pub, err := g.publicKey(ctx, o, keys)
	if err != nil {
		return receipts.Receipt{}, err
	}
	return receipts.Verify(data, pub)
}

// storedReceipts lists and verifies the receipts in the repository.
func (g *globalOptions) storedReceipts(ctx context.Context, o *receiptOptions) ([]receipts.Receipt, func(), error) {
	if g.repo == "" {
		return nil, nil, errors.New("receipts are kept in the repository: give --repo")
	}
	keys, store, done, err := g.receiptKeys(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	pub, err := g.publicKey(ctx, o, keys)
	if err != nil {
		done()
		return nil, nil, err
	}
	rs, err := receipts.List(ctx, store, pub)
	if err != nil {
		done()
		return nil, nil, err
	}
	return rs, done, nil
}
