package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/jobs"
	"lethe/agent/repository"
)

func newKeyCommand(g *globalOptions) *cobra.Command {
	var newPasswordFile string
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage the repository's keys (passwords)",
	}

	readNew := func() (string, error) {
		if newPasswordFile != "" {
			pw, err := jobs.ReadPasswordFile(newPasswordFile)
			if err != nil {
				return "", fmt.Errorf("new password: %w", err)
			}
			return pw, nil
		}
		pw, err := askPassword("enter new password: ")
		if err != nil {
			return "", err
		}
		again, err := askPassword("enter new password again: ")
		if err != nil {
			return "", err
		}
		if pw != again {
			return "", fmt.Errorf("passwords do not match")
		}
		return pw, nil
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List keys",
		Args:  cobra.NoArgs,
		RunE: g.withRepository(false, false, func(ctx context.Context, repo *repository.Repository, args []string) error {
			keys, err := repo.Keys(ctx)
			if err != nil {
				return err
			}
			if g.json {
				out := make([]keyJSON, 0, len(keys))
				for _, k := range keys {
					out = append(out, keyJSON{Current: k.Current, ID: k.ID.Str(), UserName: k.Username, HostName: k.Hostname, Created: k.Created.Local().Format(time.DateTime)})
				}
				return printJSON(g.stdout, out)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, " ID\tUser\tHost\tCreated")
			for _, k := range keys {
				mark := " "
				if k.Current {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", mark, k.ID.Str(), k.Username, k.Hostname, k.Created.Local().Format(time.DateTime))
			}
			return tw.Flush()
		}),
	}
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a key (a further password)",
		Args:  cobra.NoArgs,
		RunE: g.withAccess(adding, false, func(ctx context.Context, repo *repository.Repository, args []string) error {
			pw, err := readNew()
			if err != nil {
				return err
			}
			host, _ := os.Hostname()
			g.warnWeakKDF()
			id, err := repo.AddKey(ctx, pw, currentUsername(), host)
			if err != nil {
				return err
			}
			g.printf("saved new key as %s\n", id.Str())
			return nil
		}),
	}
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a key (not the one in use)",
		Args:  argsOf(1, 1, "one key ID (see lethe key list)"),
		RunE: g.withRepository(true, false, func(ctx context.Context, repo *repository.Repository, args []string) error {
			id, err := findKey(ctx, repo, args[0])
			if err != nil {
				return err
			}
			if err := repo.RemoveKey(ctx, id); err != nil {
				return err
			}
			g.printf("removed key %s\n", id.Str())
			return nil
		}),
	}
	passwd := &cobra.Command{
		Use:   "passwd",
		Short: "Change the password of the key in use",
		Args:  cobra.NoArgs,
		RunE: g.withRepository(true, false, func(ctx context.Context, repo *repository.Repository, args []string) error {
			pw, err := readNew()
			if err != nil {
				return err
			}
			old := repo.KeyID()
			host, _ := os.Hostname()
			g.warnWeakKDF()
			id, err := repo.ChangePassword(ctx, pw, currentUsername(), host)
			if err != nil {
				return err
			}
			g.printf("saved new key as %s, removed old key %s\n", id.Str(), old.Str())
			return nil
		}),
	}
	// Only the commands that take a new password offer the flag.
	for _, c := range []*cobra.Command{add, passwd} {
		c.Flags().StringVar(&newPasswordFile, "new-password-file", "", "read the new password from `file`")
	}
	cmd.AddCommand(list, add, remove, passwd)
	return cmd
}

// findKey resolves a full ID or a unique prefix of a key file's ID.
func findKey(ctx context.Context, repo *repository.Repository, s string) (repository.ID, error) {
	keys, err := repo.Keys(ctx)
	if err != nil {
		return repository.ID{}, err
	}
	var found []repository.ID
	for _, k := range keys {
		if strings.HasPrefix(k.ID.String(), s) {
			found = append(found, k.ID)
		}
	}
	switch len(found) {
	case 0:
		return repository.ID{}, fmt.Errorf("no key %q", s)
	case 1:
		return found[0], nil
	}
	return repository.ID{}, fmt.Errorf("key prefix %q is ambiguous", s)
}

// keyJSON is a key as `restic key list --json` prints it.
type keyJSON struct {
	Current  bool   `json:"current"`
	ID       string `json:"id"`
	UserName string `json:"userName"`
	HostName string `json:"hostName"`
	Created  string `json:"created"`
}
