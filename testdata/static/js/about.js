function showTeam(members) {
  var list = document.createElement("ul");
  for (var index = 0; index < members.length; index++) {
    var item = document.createElement("li");
    item.textContent = members[index];
    list.appendChild(item);
  }
  return list;
}
