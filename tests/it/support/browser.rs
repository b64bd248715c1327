//! A person's browser: a cookie-keeping HTTP client that sees redirects,
//! signs in and consents through the real pages.
use super::fixtures::{CHALLENGE, PASSWORD, REDIRECT, VERIFIER};
use super::server::TestServer;

/// A cookie-keeping HTTP client that does not follow redirects (so tests see them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// The value of a hidden form field in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle).unwrap_or_else(|| panic!("no field {name} in page: {html}")) + needle.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].replace("&amp;", "&").replace("&#x2f;", "/").replace("&#x27;", "'").replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">")
}

/// Query parameters of a redirect's Location.
pub fn location_params(r: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let loc = r.headers().get("location").unwrap_or_else(|| panic!("no Location on {}", r.status())).to_str().unwrap();
    url::Url::parse(loc).expect("absolute Location").query_pairs().into_owned().collect()
}

impl TestServer {
    /// The authorize URL for `client_id` with PKCE S256 and `extra` parameters.
    pub fn authorize_url(&self, client_id: &str, scope: &str, extra: &[(&str, &str)]) -> String {
        let mut u = url::Url::parse(&self.url("/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", scope)
            .append_pair("state", "st4te")
            .append_pair("nonce", "n0nce")
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            u.query_pairs_mut().append_pair(k, v);
        }
        u.to_string()
    }

    /// Log in as `username` through the login page the authorize request shows,
    /// approve the consent page if shown, and return the final redirect.
    pub async fn login_and_consent(&self, browser: &reqwest::Client, authorize_url: &str, username: &str) -> reqwest::Response {
        let r = browser.get(authorize_url).send().await.unwrap();
        assert_eq!(r.status(), 200, "login page");
        let html = r.text().await.unwrap();
        assert!(html.contains("Sign in"));
        let r = browser
            .post(self.url("/login"))
            .form(&[("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("username", username.into()), ("password", PASSWORD.into())])
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            return r;
        }
        let html = r.text().await.unwrap();
        assert!(html.contains("wants access to your account"), "consent page: {html}");
        browser
            .post(self.url("/authorize/consent"))
            .form(&[("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("decision", "allow".into())])
            .send()
            .await
            .unwrap()
    }

    /// Exchange a code as a public client with the test verifier.
    pub async fn exchange(&self, client_id: &str, code: &str) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", client_id)])
            .send()
            .await
            .unwrap()
    }

    /// The whole flow for a user: a fresh browser, login, consent, code, tokens.
    pub async fn tokens_for(&self, client_id: &str, username: &str, scope: &str) -> serde_json::Value {
        let b = browser();
        let r = self.login_and_consent(&b, &self.authorize_url(client_id, scope, &[]), username).await;
        assert_eq!(r.status(), 303);
        let code = location_params(&r)["code"].clone();
        let r = self.exchange(client_id, &code).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Sign `username` in through the login page that the device page
    /// (`complete`, a `verification_uri[_complete]`) shows first; the login
    /// must lead back to the code it was given. The code-entry page.
    pub async fn sign_in_at_device(&self, b: &reqwest::Client, username: &str, complete: &str) -> String {
        let html = b.get(complete).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Sign in"), "{html}");
        let form = [
            ("csrf", hidden(&html, "csrf")),
            ("authz", String::new()),
            ("next", hidden(&html, "next")),
            ("username", username.into()),
            ("password", PASSWORD.into()),
        ];
        let r = b.post(self.url("/login")).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let back = r.headers()["location"].to_str().unwrap().to_string();
        assert!(back.starts_with("/device?user_code="), "{back}");
        b.get(self.url(&back)).send().await.unwrap().text().await.unwrap()
    }

    /// Post a user code on the code-entry page.
    pub async fn enter_user_code(&self, b: &reqwest::Client, page: &str, user_code: &str) -> reqwest::Response {
        b.post(self.url("/device")).form(&[("csrf", hidden(page, "csrf")), ("user_code", user_code.into())]).send().await.unwrap()
    }

    /// Allow or deny on the device consent screen.
    pub async fn decide_device(&self, b: &reqwest::Client, consent: &str, decision: &str) -> reqwest::Response {
        let form = [("csrf", hidden(consent, "csrf")), ("user_code", hidden(consent, "user_code")), ("decision", decision.into())];
        b.post(self.url("/device")).form(&form).send().await.unwrap()
    }

    /// A person approves a device: signs in at `complete`, confirms the code, allows.
    pub async fn approve_device(&self, username: &str, complete: &str, user_code: &str) {
        let b = browser();
        let page = self.sign_in_at_device(&b, username, complete).await;
        let consent = self.enter_user_code(&b, &page, user_code).await.text().await.unwrap();
        let r = self.decide_device(&b, &consent, "allow").await;
        assert!(r.text().await.unwrap().contains("Device connected"));
    }
}
