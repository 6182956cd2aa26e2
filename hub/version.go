package hub

// Version is the doorhub version, injected at build time with
// -ldflags "-X github.com/doorhub/doorhub/hub.Version=...".
var Version = "dev"
