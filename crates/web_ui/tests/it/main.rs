//! The web routes in-process (tower `oneshot`): login, sessions, CSRF, settings, runs
//! and downloads against a real controller running a real script. The browser test
//! over TLS is data_analyser's tests/it/web.rs.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use data_link::DataInterface;
use http_body_util::BodyExt;
use project_runtime::{ApiInfo, Controller, ProjectApi};
use projects::{Project, ProjectConfig, ScriptOverrides};
use security::{AuthService, Sessions};
use serde_json::{json, Value};
use session::Session;
use tower::ServiceExt;
use web_ui::{WebOptions, WebState};

const SETTINGS: &str = "subjectName = \"sub-01\"\nrunNum = [1]\nscanNum = [13]\nnumTRs = 10\n\
                        plotTitle = \"Means\"\nplotYRangeLow = 0\nplotYRangeHigh = 10\n";

struct Site {
    _dir: tempfile::TempDir,
    app: Router,
    controller: Controller,
}

/// Project `p` whose main script prints two lines, users alice/secret (or test/test).
async fn site(test_mode: bool) -> Site {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let project_dir = root.join("projects/p");
    std::fs::create_dir_all(project_dir.join("conf")).expect("project folder");
    std::fs::write(project_dir.join("conf/p.toml"), SETTINGS).expect("settings");
    std::fs::write(
        project_dir.join("p.sh"),
        "echo hello from p\necho oops >&2\n",
    )
    .expect("script");
    let project =
        Project::open(&root.join("projects"), "p", &ScriptOverrides::default()).expect("project");
    let settings = ProjectConfig::load(&project.config_path).expect("settings load");
    let session = Session::create(&root.join("sessions"), "p").expect("session");
    let rules = filestore::AccessRules::new([root], ["*"]).expect("rules");
    let api = ProjectApi::start(
        DataInterface::local(rules),
        session.clone(),
        ApiInfo {
            project: "p".into(),
            subject_remote: false,
            station: String::new(),
            qa: Default::default(),
        },
    )
    .await
    .expect("project API");
    let controller = Controller::new(
        project,
        settings,
        session,
        api,
        "python3".into(),
        Duration::from_secs(2),
    );
    let auth = if test_mode {
        AuthService::test_mode(Sessions::default()).expect("test users")
    } else {
        let passwd = root.join("passwd");
        security::users::add_user(&passwd, "alice", "secret").expect("user");
        AuthService::new(&passwd, Sessions::default()).expect("auth")
    };
    let state = WebState::new(
        controller.clone(),
        data_link::analyser::Streamers::new(),
        auth,
        WebOptions {
            test_mode,
            ..Default::default()
        },
    );
    Site {
        _dir: dir,
        app: web_ui::router(state),
        controller,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path).header(header::HOST, "analyser:8888");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::empty()).expect("request")
}

fn post(path: &str, cookie: Option<&str>, csrf: Option<&str>, body: Value) -> Request<Body> {
    let mut r = Request::post(path)
        .header(header::HOST, "analyser:8888")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    if let Some(t) = csrf {
        r = r.header("x-csrf-token", t);
    }
    r.body(Body::from(body.to_string())).expect("request")
}

/// Logs in and returns (cookie "name=value", CSRF token).
async fn login(app: &Router, user: &str, password: &str) -> (String, String) {
    let answer = call(
        app,
        post(
            "/api/login",
            None,
            None,
            json!({"user": user, "password": password, "next": "//evil.example/"}),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["redirect"], "/", "never to another site");
    let set = answer.headers[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    let cookie = set.split(';').next().expect("name=value").to_owned();
    let state = call(app, get("/api/state", Some(&cookie))).await;
    assert_eq!(state.status, StatusCode::OK);
    let csrf = state.json()["csrf"].as_str().expect("csrf").to_owned();
    (format!("{cookie}\n{set}"), csrf)
}

#[tokio::test]
async fn a_password_change_ends_the_web_sessions_of_that_user() {
    let site = site(false).await;
    let app = &site.app;
    let (both, _) = login(app, "alice", "secret").await;
    let (cookie, _) = both.split_once('\n').expect("two parts");
    let passwd = site._dir.path().join("passwd");
    security::users::add_user(&passwd, "alice", "a new secret").expect("new password");
    let refused = call(app, get("/api/state", Some(cookie))).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    // The new password logs in, and that session lives on.
    let (both, _) = login(app, "alice", "a new secret").await;
    let (cookie, _) = both.split_once('\n').expect("two parts");
    assert_eq!(
        call(app, get("/api/state", Some(cookie))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_sessions_csrf_and_logout() {
    let site = site(false).await;
    let app = &site.app;
    let home = call(app, get("/", None)).await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.headers[header::LOCATION], "/login?next=%2F");
    assert_eq!(
        call(app, get("/api/state", None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    for (user, password) in [("alice", "wrong"), ("mallory", "secret")] {
        let refused = call(
            app,
            post(
                "/api/login",
                None,
                None,
                json!({"user": user, "password": password}),
            ),
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{user}");
        assert!(
            refused.text.contains("wrong user name or password"),
            "{}",
            refused.text
        );
        assert!(refused.headers.get(header::SET_COOKIE).is_none());
    }

    let (both, csrf) = login(app, "alice", "secret").await;
    let (cookie, set) = both.split_once('\n').expect("two parts");
    assert!(cookie.starts_with("__Host-rtcloud="), "{set}");
    for attribute in [
        "Path=/",
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Max-Age=43200",
    ] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    let page = call(app, get("/", Some(cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("TEST MODE"));
    assert!(page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp")
        .contains("default-src 'self'"));

    let edit = json!({"key": "numTRs", "value": "3"});
    let refused = call(app, post("/api/settings", Some(cookie), None, edit.clone())).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "no CSRF token");
    let refused = call(
        app,
        post("/api/settings", Some(cookie), Some("0000"), edit.clone()),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "a wrong CSRF token");
    let mut cross = post("/api/settings", Some(cookie), Some(&csrf), edit.clone());
    cross.headers_mut().insert(
        header::ORIGIN,
        "https://evil.example".parse().expect("origin"),
    );
    assert_eq!(
        call(app, cross).await.status,
        StatusCode::FORBIDDEN,
        "another origin"
    );
    assert_eq!(
        site.controller.settings().table()["numTRs"].as_integer(),
        Some(10)
    );

    let mut same = post("/api/settings", Some(cookie), Some(&csrf), edit);
    same.headers_mut().insert(
        header::ORIGIN,
        "https://analyser:8888".parse().expect("origin"),
    );
    let ok = call(app, same).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(
        site.controller.settings().table()["numTRs"].as_integer(),
        Some(3)
    );
    let bad = call(
        app,
        post(
            "/api/settings",
            Some(cookie),
            Some(&csrf),
            json!({"key": "numTRs", "value": "three"}),
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.text.contains("numTRs must be an integer"),
        "{}",
        bad.text
    );
    let reset = call(
        app,
        post("/api/settings/reset", Some(cookie), Some(&csrf), json!({})),
    )
    .await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(
        site.controller.settings().table()["numTRs"].as_integer(),
        Some(10)
    );

    let out = call(
        app,
        post("/api/logout", Some(cookie), Some(&csrf), json!({})),
    )
    .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.headers[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .contains("Max-Age=0"));
    assert_eq!(
        call(app, get("/api/state", Some(cookie))).await.status,
        StatusCode::UNAUTHORIZED
    );
    let again = call(
        app,
        post(
            "/api/run",
            Some(cookie),
            Some(&csrf),
            json!({"kind": "main"}),
        ),
    )
    .await;
    assert_eq!(
        again.status,
        StatusCode::UNAUTHORIZED,
        "the old cookie is worth nothing"
    );
}

#[tokio::test]
async fn a_run_from_the_page_and_its_files() {
    let site = site(true).await;
    let app = &site.app;
    let (both, csrf) = login(app, "test", "test").await;
    let (cookie, set) = both.split_once('\n').expect("two parts");
    assert!(
        cookie.starts_with("rtcloud-test=") && !set.contains("Secure"),
        "{set}"
    );
    let page = call(app, get("/", Some(cookie))).await;
    assert!(page.text.contains("TEST MODE"), "the banner on every page");
    assert!(call(app, get("/login", None))
        .await
        .text
        .contains("TEST MODE"));

    let bad = call(
        app,
        post(
            "/api/run",
            Some(cookie),
            Some(&csrf),
            json!({"kind": "rm -rf"}),
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let started = call(
        app,
        post(
            "/api/run",
            Some(cookie),
            Some(&csrf),
            json!({"kind": "main"}),
        ),
    )
    .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    let number = started.json()["launch"]["number"].as_u64().expect("number") as u32;
    let ended = tokio::time::timeout(Duration::from_secs(60), site.controller.wait(number))
        .await
        .expect("the script ends")
        .expect("the launch");
    assert_eq!(ended.outcome.as_deref(), Some("exit 0"));

    let state = call(app, get("/api/state", Some(cookie))).await.json();
    let logs = state["logs"].as_array().expect("logs");
    assert!(logs
        .iter()
        .any(|l| l["kind"] == "stdout" && l["text"] == "hello from p"));
    assert!(logs
        .iter()
        .any(|l| l["kind"] == "stderr" && l["text"] == "oops"));
    assert_eq!(state["plot"]["y_range"], json!([0.0, 10.0]));
    assert_eq!(state["running"], Value::Null);

    let log = call(
        app,
        get(&format!("/api/launches/{number}/log.txt"), Some(cookie)),
    )
    .await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.text.contains("hello from p"), "{}", log.text);
    assert!(log.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ascii")
        .contains("launch-001-main-log.txt"));
    let config = call(
        app,
        get(&format!("/api/launches/{number}/config.toml"), Some(cookie)),
    )
    .await;
    assert!(config.text.contains("numTRs = 10"), "{}", config.text);
    for path in [
        "/api/launches/1/secret.key",
        "/api/launches/1/..%2F..%2Fpasswd",
        "/api/launches/9/log.txt",
    ] {
        assert_eq!(
            call(app, get(path, Some(cookie))).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        call(app, get("/api/launches/1/log.txt", None)).await.status,
        StatusCode::UNAUTHORIZED
    );
}
