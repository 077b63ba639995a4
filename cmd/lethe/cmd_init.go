package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"lethe/agent/jobs"
	"lethe/agent/repository"
)

func newInitCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create a new repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := g.repoSpec()
			if err != nil {
				return err
			}
			r.Password = func() (string, error) { return g.newPassword("enter password for new repository: ") }
			host, _ := os.Hostname()
			g.warnWeakKDF()
			repo, err := jobs.Init(ctx, r, repository.InitOptions{Username: currentUsername(), Hostname: host, KDF: weakKDF()})
			if err != nil {
				return err
			}
			defer jobs.Close(repo)
			be := repo.Backend()
			g.warnDeletion(ctx, be)
			if g.json {
				return printJSON(g.stdout, map[string]string{"message_type": "initialized", "id": repo.Config().ID, "repository": be.Location()})
			}
			g.printf("created lethe repository %s at %s\n", shortID(repo.Config().ID), be.Location())
			g.printf("Please note that knowledge of your password is required to access\nthe repository. Losing your password means that your data is\nirrecoverably lost.\n")
			return nil
		},
	}
}

// newPassword takes a new password from the environment or file, or asks
// twice on a terminal.
func (g *globalOptions) newPassword(prompt string) (string, error) {
	if os.Getenv("LETHE_PASSWORD") != "" || g.passwordFile != "" {
		return g.readPassword(prompt)
	}
	pw, err := askPassword(prompt)
	if err != nil {
		return "", err
	}
	again, err := askPassword("enter password again: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("passwords do not match")
	}
	g.password = pw
	return pw, nil
}

func currentUsername() string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if u := os.Getenv(k); u != "" {
			return u
		}
	}
	return ""
}

func shortID(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}
