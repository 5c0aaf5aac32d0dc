// 3-D Secure for a charge made while the customer was away: Stripe.js asks the bank, then the
// form tells the portal to read the payment's new state.
(function () {
  const form = document.getElementById("authenticate-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const errors = document.getElementById("authenticate-errors");
  let done = false;
  form.addEventListener("submit", async (event) => {
    if (done) return;
    event.preventDefault();
    const result = await stripe.confirmCardPayment(form.dataset.clientSecret);
    if (result.error) {
      errors.textContent = result.error.message || "The bank did not confirm the payment.";
    }
    done = true;
    form.submit();
  });
})();
