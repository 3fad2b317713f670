// The printable visit order's one control: the Print button (the page itself is server-rendered,
// desk/visit_order.py; its print stylesheet hides this button on paper).

document.getElementById("print")?.addEventListener("click", () => window.print());
