var comments = {
  load: function (postId) {
    return fetch("/api/posts/" + encodeURIComponent(postId) + "/comments")
      .then(function (response) { return response.json(); });
  }
};
