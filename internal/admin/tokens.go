package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TokenPrefix starts every API token, so that logs and secret scanners
// can recognise one.
const TokenPrefix = "stg_"

// Token is an API token for machines, as strangler.admin_tokens keeps it
// (the token itself is never stored, only its SHA-256).
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
	hash      [32]byte
}

// TokenError is a token operation refused for its input.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return e.Reason }

// BadRequest marks the error as the caller's for the admin API.
func (e *TokenError) BadRequest() bool { return true }

// ErrNoToken is a name with no live token.
var ErrNoToken = errors.New("no live token of that name")

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// TokenStore keeps API tokens in the database and the live ones in
// memory: a lookup touches the database at most once per TTL (and once a
// second for tokens it does not know yet, so that a new token works at
// once). While the database is down the tokens last read keep working.
type TokenStore struct {
	Pool *pgxpool.Pool
	// TTL bounds how long a revocation takes to reach this replica
	// (default 30 s).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	snap      atomic.Pointer[tokenSnap]
	refreshMu sync.Mutex
	failedAt  time.Time // under refreshMu
}

type tokenSnap struct {
	at     time.Time
	byHash map[[32]byte]Token
}

// retryAfterFailure spaces the reads of a database that failed.
const retryAfterFailure = 2 * time.Second

func (s *TokenStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *TokenStore) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return 30 * time.Second
}

// HashToken returns the SHA-256 of a raw token.
func HashToken(raw string) [32]byte { return sha256.Sum256([]byte(raw)) }

// Create makes a token and returns it (the only time it is shown).
func (s *TokenStore) Create(ctx context.Context, name string, role Role, ttl time.Duration, actor string) (string, Token, error) {
	if !tokenName.MatchString(name) {
		return "", Token{}, &TokenError{"name: use letters, digits, '.', '_' and '-' (at most 63), starting with a letter or digit"}
	}
	if _, ok := ParseRole(string(role)); !ok {
		return "", Token{}, &TokenError{fmt.Sprintf("role: unknown role %q: use viewer, engineer, sre or admin", role)}
	}
	if ttl <= 0 || ttl > 2*366*24*time.Hour {
		return "", Token{}, &TokenError{"expires: a token lives more than 0 and at most two years"}
	}
	raw := TokenPrefix + randomString(32)
	t := Token{Name: name, Role: role, CreatedBy: actor, ExpiresAt: s.now().Add(ttl).UTC(), hash: HashToken(raw)}
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO strangler.admin_tokens (name, role, hash, created_by, expires_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`,
			name, string(role), t.hash[:], actor, t.ExpiresAt).Scan(&t.ID, &t.CreatedAt)
		if err != nil {
			return err
		}
		return Audit(ctx, tx, actor, "token.create", name, "", map[string]any{"role": role, "expires_at": t.ExpiresAt})
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return "", Token{}, &TokenError{fmt.Sprintf("name: a live token %q exists; revoke it first", name)}
	}
	if err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	s.snap.Store(nil)
	return raw, t, nil
}

const tokenColumns = `id, name, role, created_at, created_by, expires_at, revoked_at, revoked_by, hash`

func scanToken(row pgx.CollectableRow) (Token, error) {
	var t Token
	var hash []byte
	err := row.Scan(&t.ID, &t.Name, &t.Role, &t.CreatedAt, &t.CreatedBy, &t.ExpiresAt, &t.RevokedAt, &t.RevokedBy, &hash)
	copy(t.hash[:], hash)
	return t, err
}

// List returns the live tokens (not revoked, not expired), or all.
func (s *TokenStore) List(ctx context.Context, all bool) ([]Token, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+tokenColumns+` FROM strangler.admin_tokens
		WHERE $1 OR (revoked_at IS NULL AND expires_at > now()) ORDER BY name, id`, all)
	if err != nil {
		return nil, fmt.Errorf("read strangler.admin_tokens: %w", err)
	}
	return pgx.CollectRows(rows, scanToken)
}

// Revoke ends the live token of a name; ErrNoToken when there is none.
func (s *TokenStore) Revoke(ctx context.Context, name, actor, reason string) (Token, error) {
	var t Token
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE strangler.admin_tokens SET revoked_at = now(), revoked_by = $2
			WHERE name = $1 AND revoked_at IS NULL RETURNING `+tokenColumns, name, actor)
		if err != nil {
			return err
		}
		if t, err = pgx.CollectExactlyOneRow(rows, scanToken); err != nil {
			return err
		}
		return Audit(ctx, tx, actor, "token.revoke", name, reason, nil)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, ErrNoToken
	}
	if err != nil {
		return Token{}, fmt.Errorf("revoke token: %w", err)
	}
	s.snap.Store(nil)
	return t, nil
}

// errTokensUnavailable: the tokens could not be read and none are cached.
var errTokensUnavailable = errors.New("API tokens cannot be checked: the database is unreachable (use the break-glass token)")

// Lookup finds the live token a raw token is; ok is false for an unknown,
// revoked or expired one.
func (s *TokenStore) Lookup(ctx context.Context, raw string) (Token, bool, error) {
	return s.lookupHash(ctx, HashToken(raw))
}

func (s *TokenStore) lookupHash(ctx context.Context, h [32]byte) (Token, bool, error) {
	snap, err := s.current(ctx, false)
	if err != nil {
		return Token{}, false, err
	}
	t, ok := snap.byHash[h]
	if !ok && s.now().Sub(snap.at) >= time.Second {
		if snap, err = s.current(ctx, true); err != nil {
			return Token{}, false, err
		}
		t, ok = snap.byHash[h]
	}
	if !ok || !s.now().Before(t.ExpiresAt) {
		return Token{}, false, nil
	}
	return t, true, nil
}

// current returns the cached tokens, re-read when older than the TTL (or
// at once with force). A failed read keeps the old ones.
func (s *TokenStore) current(ctx context.Context, force bool) (*tokenSnap, error) {
	if snap := s.snap.Load(); snap != nil && !force && s.now().Sub(snap.at) < s.ttl() {
		return snap, nil
	}
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	old := s.snap.Load()
	if old != nil && (s.now().Sub(old.at) < time.Second || !force && s.now().Sub(old.at) < s.ttl()) {
		return old, nil // another request read them meanwhile
	}
	if !s.failedAt.IsZero() && s.now().Sub(s.failedAt) < retryAfterFailure {
		if old != nil {
			return old, nil
		}
		return nil, errTokensUnavailable
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	list, err := s.List(rctx, false)
	if err != nil {
		s.failedAt = s.now()
		if old != nil {
			return old, nil
		}
		return nil, errTokensUnavailable
	}
	s.failedAt = time.Time{}
	snap := &tokenSnap{at: s.now(), byHash: make(map[[32]byte]Token, len(list))}
	for _, t := range list {
		snap.byHash[t.hash] = t
	}
	s.snap.Store(snap)
	return snap, nil
}

// credOf names a token's hash in a session cookie.
func credOf(h [32]byte) string { return hex.EncodeToString(h[:]) }

// Audit records a write made through the admin API or the token CLI
// (flag changes go to the flag history instead).
func Audit(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, actor, action, subject, reason string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	b, _ := json.Marshal(detail)
	_, err := q.Exec(ctx, `INSERT INTO strangler.admin_audit (actor, action, subject, reason, detail)
		VALUES ($1, $2, $3, $4, $5)`, actor, action, subject, reason, b)
	if err != nil {
		return fmt.Errorf("write strangler.admin_audit: %w", err)
	}
	return nil
}
