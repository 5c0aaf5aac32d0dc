// Save a card: Stripe.js (or localstripe's stand-in) confirms the SetupIntent in the browser,
// then the form posts only the SetupIntent's id to the portal. The card number never reaches us.
(function () {
  const form = document.getElementById("card-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const errors = document.getElementById("card-errors");
  const button = document.getElementById("card-submit");
  let confirmed = false;
  form.addEventListener("submit", async (event) => {
    if (confirmed) return;
    event.preventDefault();
    button.disabled = true;
    errors.textContent = "";
    const result = await stripe.confirmCardSetup(form.dataset.clientSecret, {
      payment_method: { card: card },
    });
    if (result.error) {
      errors.textContent = result.error.message || "The card was not accepted.";
      button.disabled = false;
      return;
    }
    confirmed = true;
    form.submit();
  });
})();
