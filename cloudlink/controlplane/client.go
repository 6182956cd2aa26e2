package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Client calls a running server's API.
type Client struct {
	Base  string
	Token string
	// Site names the site requests are for ("" while the server holds
	// one).
	Site string
	HTTP *http.Client
}

// ErrNotServing: the state directory has no running server.
var ErrNotServing = errors.New("no doorhub-cloud server is running for this state directory (start doorhub-cloud serve --state DIR)")

// Dial finds the server of a state directory through its server.json.
func Dial(stateDir string) (*Client, error) {
	if stateDir == "" {
		return nil, fmt.Errorf("the state directory is required: --state DIR or %s", EnvState)
	}
	b, err := os.ReadFile(filepath.Join(stateDir, ServerFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNotServing, stateDir, ServerFile)
	}
	if err != nil {
		return nil, err
	}
	var info ServerInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", ServerFile, err)
	}
	return &Client{Base: info.Address, Token: info.Token, HTTP: &http.Client{Timeout: 60 * time.Second}}, nil
}

// Call posts req to the API path (e.g. "invite") and decodes the answer
// into resp; an error answer is an *APIError.
func (c *Client) Call(ctx context.Context, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/api/v1/"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Authorization", "Bearer "+c.Token)
	hr.Header.Set("Content-Type", "application/json")
	if c.Site != "" {
		hr.Header.Set(SiteHeader, c.Site)
	}
	res, err := c.HTTP.Do(hr)
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrNotServing, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		e := &APIError{Status: res.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("%s: %s", res.Status, bytes.TrimSpace(b))
		}
		return e
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(b, resp)
}
