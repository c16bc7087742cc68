// The batch page of the approval desk: keys a (approve), r (reject: a reason is needed), n / p (next /
// previous in the review queue), 1-9 (pick a reusable reason while the reason box has focus).
const form = document.getElementById("decide");
const reason = document.getElementById("reason");
const hint = document.getElementById("decide-hint");

function typing(event) {
  const el = event.target;
  return el && (el.tagName === "TEXTAREA" || el.tagName === "INPUT" || el.tagName === "SELECT" || el.isContentEditable);
}

function submit(decision) {
  if (!form) return;
  if (decision === "reject" && !reason.value.trim()) {
    hint.textContent = "A rejection needs a reason: type one or pick one (1-9), then press Enter.";
    reason.dataset.armed = "reject";
    reason.focus();
    return;
  }
  document.getElementById(decision === "approve" ? "approve" : "reject").click();
}

function go(id) {
  const link = document.getElementById(id);
  if (link) window.location.assign(link.href);
}

document.querySelectorAll(".reason-templates .template").forEach((button) => {
  button.addEventListener("click", () => {
    reason.value = button.dataset.text;
    reason.focus();
  });
});

if (reason) {
  reason.addEventListener("keydown", (event) => {
    if (/^[1-9]$/.test(event.key) && !reason.value.trim()) {
      const pick = document.querySelectorAll(".reason-templates .template")[Number(event.key) - 1];
      if (pick) {
        event.preventDefault();
        reason.value = pick.dataset.text;
      }
    } else if (event.key === "Enter" && !event.shiftKey && reason.dataset.armed === "reject" && reason.value.trim()) {
      event.preventDefault();
      submit("reject");
    } else if (event.key === "Escape") {
      delete reason.dataset.armed;
      hint.textContent = "";
      reason.blur();
    }
  });
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
  const actions = { a: () => submit("approve"), r: () => submit("reject"), n: () => go("next"), p: () => go("prev") };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

// Tests (and impatient admins) can tell the keys are live.
document.body.dataset.deskReady = "1";
