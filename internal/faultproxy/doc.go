// Package faultproxy is a small HTTP proxy that injects faults between the
// strangler proxy and one of its upstreams, for the fault-injection suite
// (faultinject/) and by hand.
//
// A Proxy forwards every request to its upstream unless one of its faults
// applies. A Fault selects requests by path (Match) and hits a share of
// them (Rate, spread evenly, not drawn at random, so that a test knows
// exactly how many requests were hit); its Kind says what happens:
//
//   - latency: wait Delay, then forward;
//   - error: answer HTTP 500 without forwarding (a tRPC error envelope on
//     tRPC paths, as a failing service would);
//   - trpc_error: answer 200 whose body holds an INTERNAL_SERVER_ERROR
//     entry per call, without forwarding (an answer that only a reader of
//     the body knows to be a failure);
//   - corrupt: forward, then replace Old with New in the answer's body;
//   - reset: close the connection with a TCP reset, without answering;
//   - hang: never answer; hold the request until the client gives up.
//
// Faults change at run time through Set, or the control API (Control,
// Client) when the proxy runs as its own process (cmd/faultproxy). Every
// request is recorded (Events) with its request id, the fault applied, the
// status sent and when it started and ended, so that tests assert on what
// happened rather than on their own clock.
package faultproxy
