//! The load tool for what wrk cannot do: stateful flows and fixed-rate load.
//! `scripts/bench.sh` runs it pinned to its own core; see docs/performance.md.
//!
//! ```text
//! cargo bench --bench flows -- --base URL --scenario refresh|authcode|cc|introspect \
//!     [--client-id ID] [--client-secret S] [--username U --password P] [--token T] \
//!     [--concurrency 16] [--seconds 10] [--rate R] [--start-at UNIX_SECONDS] [--peer oidc-provider]
//! ```
//! `--start-at`: the workers sign in first, then all begin sending at that
//! instant, and the run lasts `--seconds` from it. The soak starts its four
//! flows together this way, so that the sign-ins (argon2id, on the server's
//! core) fall before its windows rather than inside them.
//! `--peer oidc-provider` runs refresh and authcode against the peer of
//! `bench/peer/server.mjs`: its authorization endpoint is `/auth`, and its
//! sign-in is the peer's own (answered at once, followed redirect by redirect).
//! Prints one line: `scenario=… requests=… non2xx=… rps=… p50_ms=… p99_ms=… max_ms=… max_at_unix=…`
//! (`max_at_unix`: when the slowest request was sent, in Unix seconds)
//! (with `--rate`, also how late the tool's own timer fired: `timer_late_p50_ms=… timer_late_p99_ms=…`).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::Digest;

struct Args(HashMap<String, String>);

impl Args {
    fn parse() -> Args {
        let mut m = HashMap::new();
        let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
        while let Some(k) = it.next() {
            if let Some(name) = k.strip_prefix("--") {
                m.insert(name.to_string(), it.next().unwrap_or_default());
            }
        }
        Args(m)
    }
    fn get(&self, k: &str) -> String {
        self.0.get(k).cloned().unwrap_or_else(|| panic!("--{k} is required"))
    }
    fn num(&self, k: &str, d: u64) -> u64 {
        self.0.get(k).and_then(|v| v.parse().ok()).unwrap_or(d)
    }
}

const REDIRECT: &str = "http://127.0.0.1:9/cb";

fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle).map(|i| i + needle.len()).unwrap_or(0);
    let end = html[start..].find('"').map(|e| e + start).unwrap_or(start);
    html[start..end].replace("&amp;", "&").replace("&#x2f;", "/").replace("&quot;", "\"")
}

fn query(loc: &str, key: &str) -> Option<String> {
    url::Url::parse(loc).ok()?.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

struct Flow {
    base: String,
    /// Against bench/peer (oidc-provider) rather than Tessera.
    peer: bool,
    client_id: String,
    http: reqwest::Client,
    verifier: String,
    challenge: String,
}

impl Flow {
    fn authorize_url(&self) -> String {
        let path = if self.peer { "/auth" } else { "/authorize" };
        let mut u = url::Url::parse(&format!("{}{path}", self.base)).unwrap();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "openid read:data")
            .append_pair("state", "s")
            .append_pair("code_challenge", &self.challenge)
            .append_pair("code_challenge_method", "S256");
        u.to_string()
    }

    /// Sign in (and consent the first time); the session stays in the cookie jar.
    async fn sign_in(&self, username: &str, password: &str) -> String {
        if self.peer {
            return self.peer_sign_in().await;
        }
        let html = self.http.get(self.authorize_url()).send().await.unwrap().text().await.unwrap();
        let r = self
            .http
            .post(format!("{}/login", self.base))
            .form(&[("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("username", username.into()), ("password", password.into())])
            .send()
            .await
            .unwrap();
        let r = if r.status() == 200 {
            let html = r.text().await.unwrap();
            self.http
                .post(format!("{}/authorize/consent", self.base))
                .form(&[("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("decision", "allow".into())])
                .send()
                .await
                .unwrap()
        } else {
            r
        };
        let loc = r.headers().get("location").expect("redirect with a code").to_str().unwrap().to_string();
        query(&loc, "code").expect("code")
    }

    /// The peer's sign-in: its login and consent answer at once, so follow
    /// its redirects (interaction, resume) to the one carrying a code.
    async fn peer_sign_in(&self) -> String {
        let mut at = self.authorize_url();
        for _ in 0..4 {
            let r = self.http.get(&at).send().await.unwrap();
            let loc = r.headers().get("location").expect("a redirect").to_str().unwrap();
            let next = url::Url::parse(&at).unwrap().join(loc).unwrap().to_string();
            if let Some(code) = query(&next, "code") {
                return code;
            }
            at = next;
        }
        panic!("the peer gave no code after four redirects")
    }

    async fn code(&self) -> Option<String> {
        let r = self.http.get(self.authorize_url()).send().await.ok()?;
        let loc = r.headers().get("location")?.to_str().ok()?.to_string();
        query(&loc, "code")
    }

    async fn exchange(&self, code: &str) -> (u16, Option<String>) {
        self.token(&[("grant_type", "authorization_code"), ("code", code), ("client_id", &self.client_id), ("redirect_uri", REDIRECT), ("code_verifier", &self.verifier)])
            .await
    }

    async fn refresh(&self, token: &str) -> (u16, Option<String>) {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", &self.client_id)]).await
    }

    /// POST /token: the status and the refresh token of the answer.
    async fn token(&self, form: &[(&str, &str)]) -> (u16, Option<String>) {
        let r = self.http.post(format!("{}/token", self.base)).form(form).send().await.unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        (status, v["refresh_token"].as_str().map(str::to_string))
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = Args::parse();
    let base = a.get("base");
    let scenario = a.get("scenario");
    if scenario == "sign" {
        // The library's own ceiling: Tessera's in-memory signer, one thread.
        let alg = tessera::keys::Alg::parse(&a.0.get("alg").cloned().unwrap_or_else(|| "RS256".into())).expect("alg");
        let g = tessera::keys::signer::generate(alg, "bench").unwrap();
        let signer = tessera::keys::Signer::from_pkcs8(alg, "bench", &g.pkcs8).unwrap();
        let claims = serde_json::json!({"iss": "http://127.0.0.1", "sub": "c", "aud": "https://api.example.com", "exp": 4_000_000_000u64,
            "iat": 1, "jti": "0123456789abcdef0123456", "client_id": "c", "scope": "read:data"});
        let deadline = Instant::now() + Duration::from_secs(a.num("seconds", 5));
        let (mut n, start) = (0u64, Instant::now());
        while Instant::now() < deadline {
            std::hint::black_box(signer.sign(tessera::keys::TokenType::AccessToken, &claims).unwrap());
            n += 1;
        }
        println!("scenario=sign alg={} rps={:.0}", alg.as_str(), n as f64 / start.elapsed().as_secs_f64());
        return;
    }
    if scenario == "password" {
        // What one login costs: an argon2id hash with Tessera's parameters
        // (a verification costs the same), one thread.
        let deadline = Instant::now() + Duration::from_secs(a.num("seconds", 5));
        let (mut n, start) = (0u64, Instant::now());
        while Instant::now() < deadline {
            std::hint::black_box(tessera::registry::users::hash_password("bench-password-1").unwrap());
            n += 1;
        }
        println!("scenario=password rps={:.1}", n as f64 / start.elapsed().as_secs_f64());
        return;
    }
    let concurrency = a.num("concurrency", 16) as usize;
    let seconds = a.num("seconds", 10);
    let rate = a.num("rate", 0);
    let client_id = a.get("client-id");
    let secret = a.0.get("client-secret").cloned();
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));

    let latencies = Arc::new(tokio::sync::Mutex::new(Vec::<f64>::new()));
    let timer_late = Arc::new(tokio::sync::Mutex::new(Vec::<f64>::new()));
    // the slowest request: (ms, when it was sent, Unix seconds), to set beside
    // what the stores logged at that moment
    let slowest = Arc::new(std::sync::Mutex::new((0f64, 0f64)));
    let non2xx = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let begin = match a.0.get("start-at") {
        Some(at) => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
            Instant::now() + Duration::from_secs_f64((at.parse::<f64>().expect("--start-at: Unix seconds") - now).max(0.0))
        }
        None => Instant::now(),
    };
    let deadline = begin + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    let signing_in = Arc::new(tokio::sync::Mutex::new(()));
    for w in 0..concurrency {
        let http = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let flow = Flow { base: base.clone(), peer: a.0.get("peer").is_some(), client_id: client_id.clone(), http, verifier: verifier.clone(), challenge: challenge.clone() };
        let (lat, bad, sc, secret, signing_in) = (latencies.clone(), non2xx.clone(), scenario.clone(), secret.clone(), signing_in.clone());
        let (timer, slowest) = (timer_late.clone(), slowest.clone());
        let (user, pw, token) = (a.0.get("username").cloned(), a.0.get("password").cloned(), a.0.get("token").cloned());
        // With --rate, each worker sends at fixed times and latency counts from
        // the scheduled time, so a stall is not hidden (no coordinated omission):
        // a worker still waiting for its last answer when the next send is due
        // counts from when it was due. A worker that waited for its schedule
        // counts from when its timer fired: Tokio's timer rounds up to the next
        // millisecond, a lateness of the tool's own (printed as timer_late).
        let interval = (rate > 0).then(|| Duration::from_secs_f64(concurrency as f64 / rate as f64));
        tasks.push(tokio::spawn(async move {
            let mut refresh = None;
            if sc != "cc" && sc != "introspect" {
                // One sign-in at a time: concurrent attempts on one name count
                // as failures until they succeed, and would lock it.
                let _one = signing_in.lock().await;
                let code = flow.sign_in(user.as_deref().unwrap_or(""), pw.as_deref().unwrap_or("")).await;
                refresh = flow.exchange(&code).await.1;
            }
            tokio::time::sleep_until(begin.into()).await;
            let mut next = Instant::now() + interval.map(|i| i.mul_f64(w as f64 / concurrency as f64)).unwrap_or_default();
            let (mut mine, mut late, mut worst) = (Vec::new(), Vec::new(), (0f64, 0f64));
            while Instant::now() < deadline {
                let start = match interval {
                    Some(_) if Instant::now() >= next => next,
                    Some(_) => {
                        tokio::time::sleep_until(next.into()).await;
                        late.push(next.elapsed().as_secs_f64() * 1000.0);
                        Instant::now()
                    }
                    None => Instant::now(),
                };
                let ok = match sc.as_str() {
                    "cc" => {
                        let r = flow
                            .http
                            .post(format!("{}/token", flow.base))
                            .basic_auth(&flow.client_id, secret.as_deref())
                            .form(&[("grant_type", "client_credentials")])
                            .send()
                            .await;
                        matches!(r, Ok(ref r) if r.status().is_success())
                    }
                    "refresh" => {
                        let (status, t) = flow.refresh(refresh.as_deref().unwrap_or("")).await;
                        refresh = t.or(refresh);
                        status == 200
                    }
                    "introspect" => {
                        let r = flow
                            .http
                            .post(format!("{}/introspect", flow.base))
                            .basic_auth(&flow.client_id, secret.as_deref())
                            .form(&[("token", token.as_deref().unwrap_or(""))])
                            .send()
                            .await;
                        matches!(r, Ok(ref r) if r.status().is_success())
                    }
                    "authcode" => match flow.code().await {
                        Some(code) => flow.exchange(&code).await.0 == 200,
                        None => false,
                    },
                    other => panic!("unknown scenario {other}"),
                };
                let took = start.elapsed().as_secs_f64();
                mine.push(took * 1000.0);
                if took * 1000.0 > worst.0 {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
                    worst = (took * 1000.0, now - took);
                }
                if !ok {
                    bad.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if let Some(i) = interval {
                    next += i;
                }
            }
            lat.lock().await.extend(mine);
            timer.lock().await.extend(late);
            let mut s = slowest.lock().unwrap_or_else(|e| e.into_inner());
            if worst.0 > s.0 {
                *s = worst;
            }
        }));
    }
    let started = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.max(begin).elapsed().as_secs_f64();
    let mut l = latencies.lock().await.clone();
    l.sort_by(|a, b| a.total_cmp(b));
    let mut late = timer_late.lock().await.clone();
    late.sort_by(|a, b| a.total_cmp(b));
    let late = if late.is_empty() { String::new() } else { format!(" timer_late_p50_ms={:.2} timer_late_p99_ms={:.2}", pct(&late, 0.50), pct(&late, 0.99)) };
    let max_at = slowest.lock().unwrap_or_else(|e| e.into_inner()).1;
    println!(
        "scenario={scenario} requests={} non2xx={} rps={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} max_at_unix={max_at:.3}{late}",
        l.len(),
        non2xx.load(std::sync::atomic::Ordering::Relaxed),
        l.len() as f64 / elapsed,
        pct(&l, 0.50),
        pct(&l, 0.99),
        pct(&l, 1.0)
    );
}
