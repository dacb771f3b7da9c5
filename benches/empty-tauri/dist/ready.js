// The empty app's only script: marks the document ready (what the desktop
// benchmark waits for), and `emptyAppRows(n)` adds n plain rows of about the
// inbox cards' size and text, for the scroll measurement.
const main = document.getElementById('main');
const ready = document.createElement('p');
ready.dataset.testid = 'ready';
ready.textContent = 'Ready';
main.append(ready);

window.emptyAppRows = (count) => {
  const list = document.createElement('ul');
  list.dataset.testid = 'rows';
  for (let n = 1; n <= count; n += 1) {
    const row = document.createElement('li');
    row.dataset.testid = 'row';
    const title = document.createElement('h3');
    title.textContent = `Row ${n}`;
    const summary = document.createElement('p');
    summary.textContent = `Plain text of row ${n}, about as long as a request summary in the inbox.`;
    const meta = document.createElement('p');
    meta.textContent = `Code ROW-${String(n).padStart(4, '0')} · Expires in 59:00`;
    row.append(title, summary, meta);
    list.append(row);
  }
  main.append(list);
  return count;
};
