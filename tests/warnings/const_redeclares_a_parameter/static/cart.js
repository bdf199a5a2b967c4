function total(items) {
  const items = [];
  return items.length;
}
