// Package controlplane is doorhub-cloud's server and its client: one
// site's authoritative state in its own Badger database (through
// hub/badgerstore), the console's operations behind an HTTP JSON API with a
// bearer token, and the cloud side of the MQTT link (cloudlink.Cloud) that
// publishes every applied batch, signed, to the site's hubs, answers their
// needs, and collects their acknowledgements and activity.
//
// The state directory holds:
//
//	db/           the Badger database (credential set and console values)
//	signing.key   the Ed25519 signing key, made on first start (0600)
//	server.json   the API address and token, written when serving (0600)
//	outbox/       notifications as .eml files
//
// Guarantees: an operation the API answered with success is on disk; a
// hub's acknowledged version and its activity survive a restart of the
// server (activity is stored once per event id, so a hub's redelivery is
// dropped); every hub receives the set as batches in version order or as a
// snapshot when it is behind the history the server keeps in memory.
package controlplane
