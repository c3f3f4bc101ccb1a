// The login form: posts the credentials as JSON and follows the server's redirect
// (the server only ever answers a path of this site).
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const button = document.getElementById("login-button");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  button.disabled = true;
  button.textContent = "Checking…";
  const next = new URLSearchParams(location.search).get("next") || "/";
  try {
    const response = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        user: form.user.value,
        password: form.password.value,
        next: next + location.hash,
      }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      location.assign(body.redirect || "/");
      return;
    }
    error.textContent = body.error || `login failed (${response.status})`;
  } catch (e) {
    error.textContent = `the analyser cannot be reached: ${e.message}`;
  }
  error.hidden = false;
  button.disabled = false;
  button.textContent = "Log in";
  form.password.select();
});
