package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/testutil"
)

// artefactDir is where the browser test leaves its screenshots:
// $TMPDIR/strangler-artefacts/console.
func artefactDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "strangler-artefacts", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromium finds Debian's headless browser; the test fails without it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the console's browser test needs Chromium (apt-get install chromium; .ci/run installs it)")
	return ""
}

// browser starts headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("headless", true), chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1366, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if _, err := chromedp.Run(ctx, chromedp.Location()); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// traffic asks the public listener for getAll every 20 ms until the test
// ends, so that the console has live requests to show.
func traffic(t *testing.T, url string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// page runs browser steps, saving a screenshot and the page's text when
// one fails.
type page struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	shot int
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		text, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		p.t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
	}
}

// until waits for a JavaScript condition on the page.
func (p *page) until(what, expr string) {
	p.t.Helper()
	p.do(what, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond),
			chromedp.WithPollingTimeout(60*time.Second))(ctx, t)
		return chromedp.Void{}, err
	})
}

func (p *page) screenshot(name string) {
	p.t.Helper()
	p.shot++
	b, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(p.dir, fmt.Sprintf("%02d-%s.png", p.shot, name))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// JavaScript helpers over the routes table.
const (
	getAllRow = `document.querySelector('tr[data-route="nanopore.getAll"]')`
	cellJS    = `((sel) => { const c = ` + getAllRow + `?.querySelector(sel); return c ? c.textContent : ''; })`
)

// TestConsoleInABrowser drives the console in headless Chromium: log in
// through the fake identity provider (discovery, PKCE, token endpoint and
// JWKS over HTTP), flip nanopore.getAll to new and watch live traffic
// move from legacy to the new side, open a mismatch and declare it
// accepted, then roll everything back from the keyboard and see every
// route at legacy. Screenshots: $TMPDIR/strangler-artefacts/console.
func TestConsoleInABrowser(t *testing.T) {
	idp := testutil.StartFakeOIDC(t)
	idp.SetClaims(map[string]any{"sub": "ann", "email": "ann@lab.org", "roles": []string{"engineer", "sre"}})
	legacy := newLegacyStub(t)
	db := migratedDB(t)
	m := startMain(t, adminConfig(t, legacy.URL, db, func(a *config.Admin) {
		a.OIDC = config.AdminOIDC{Issuer: idp.Issuer, ClientID: consoleClientID, RolesClaim: "roles"}
	}))
	pool := testutil.Pool(t, db)
	rec := &shadow.Record{Route: "nanopore.getAll", Procedure: "nanopore.getAll", PrimarySide: "legacy", Method: "GET",
		Path: "/api/trpc/nanopore.getAll", LegacyStatus: 200, NewStatus: 200, LegacyMS: 3.1, NewMS: 1.2,
		LegacyBody: `[{"id":1,"name":"Sample A","submitter_email":"<redacted>"}]`,
		NewBody:    `[{"id":1,"name":"Sample A ","submitter_email":"<redacted>"}]`,
		Paths:      []string{"$[*].name"},
		Diffs: []shadow.Diff{{Path: "$[0].name", General: "$[*].name", Kind: "changed", Legacy: `"Sample A"`,
			New: `"Sample A "`, Class: shadow.ClassMismatch}}}
	if _, err := (&shadow.Store{Pool: pool}).Insert(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	traffic(t, m.PublicURL()+"/api/trpc/nanopore.getAll")
	p := &page{t: t, ctx: browser(t), dir: artefactDir(t)}

	p.do("open the console", chromedp.Navigate(m.AdminURL()+"/"), chromedp.WaitVisible(chromedp.CSS("#oidc-login")))
	p.screenshot("login")
	p.do("log in", chromedp.Click(chromedp.CSS("#oidc-login")), chromedp.WaitVisible(chromedp.CSS(`tr[data-route="nanopore.getAll"]`)))
	p.until("legacy traffic shown", `parseFloat(`+cellJS+`('td.legacy-rps')) > 0 && `+cellJS+`('td.mode') === 'legacy'`)
	if who, _ := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS("#who"))); !strings.Contains(who, "ann@lab.org") || !strings.Contains(who, "engineer, sre") {
		t.Errorf("logged in as %q", who)
	}
	p.screenshot("routes-on-legacy")

	p.do("flip getAll to new",
		chromedp.Click(chromedp.CSS(`tr[data-route="nanopore.getAll"] button.flip`)),
		chromedp.WaitVisible(chromedp.CSS("#dialog")),
		chromedp.SetValue(chromedp.CSS("#f-mode"), "new"),
		chromedp.SendKeys(chromedp.CSS("#f-reason"), "browser test: cut getAll over"),
		chromedp.Click(chromedp.CSS("#dialog-confirm")))
	p.until("traffic moved to the new side", cellJS+`('td.mode') === 'new' && parseFloat(`+cellJS+`('td.new-rps')) > 0 && `+
		`parseFloat(`+cellJS+`('td.legacy-rps')) === 0`)
	p.screenshot("getAll-on-new")

	group := `#diff-groups tr[data-group="nanopore.getAll nanopore.getAll $[*].name"]`
	p.do("open the mismatch",
		chromedp.WaitVisible(chromedp.CSS(group+" button.open")),
		chromedp.Click(chromedp.CSS(group+" button.open")),
		chromedp.WaitVisible(chromedp.CSS(`#record-diffs tr[data-path="$[*].name"] button.declare`)))
	p.until("both answers side by side", `document.getElementById('record-legacy').textContent.includes('"Sample A"') && `+
		`document.getElementById('record-new').textContent.includes('"Sample A "')`)
	p.screenshot("mismatch-side-by-side")
	p.do("declare it accepted",
		chromedp.Click(chromedp.CSS(`#record-diffs tr[data-path="$[*].name"] button.declare`)),
		chromedp.WaitVisible(chromedp.CSS("#f-reason")),
		chromedp.SendKeys(chromedp.CSS("#f-reason"), "trailing spaces are kept on purpose"),
		chromedp.Click(chromedp.CSS("#dialog-confirm")))
	p.until("the group shows accepted", `document.querySelector('`+group+` .badge')?.textContent === 'accepted'`)
	p.screenshot("mismatch-accepted")
	var by, owner string
	if err := pool.QueryRow(context.Background(), `SELECT created_by, owner FROM strangler.shadow_accepted WHERE route = 'nanopore.getAll' AND path = '$[*].name'`).Scan(&by, &owner); err != nil || by != "oidc:ann@lab.org" || owner != "ann@lab.org" {
		t.Errorf("declared difference: by %q, owner %q, %v", by, owner, err)
	}

	// Roll back everything from the keyboard: the dialog takes the focus.
	p.do("roll back everything",
		chromedp.Focus(chromedp.CSS("#rollback-all")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#f-reason")))
	p.until("the reason field has the focus", `document.activeElement && document.activeElement.id === 'f-reason'`)
	p.do("give a reason and confirm", chromedp.KeyEvent("INC-99: browser test rollback"), chromedp.Click(chromedp.CSS("#dialog-confirm")))
	p.until("every route at legacy", `[...document.querySelectorAll('#routes tbody td.mode')].every(c => c.textContent === 'legacy' || c.textContent === 'deny') && `+
		`parseFloat(`+cellJS+`('td.legacy-rps')) > 0`)
	p.screenshot("rolled-back")
	code, out, _ := cliRun(t, db, "history", "nanopore.getAll", "--json")
	if code != 0 || !strings.Contains(out, `"actor": "oidc:ann@lab.org"`) || !strings.Contains(out, `"source": "console"`) ||
		!strings.Contains(out, "INC-99: browser test rollback") {
		t.Errorf("history: %s", out)
	}
}
